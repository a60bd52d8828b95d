// The transcript page: only the print button needs a script.

const button = document.getElementById("print-button");
if (button) button.addEventListener("click", () => window.print());
