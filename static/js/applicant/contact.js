// How the applicant's forms (the join form, the offline question) check a contact before it is
// sent; the server checks again (consult/contact.py).

const PHONE = /^\+?[0-9]{8,15}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Whether `text` is a phone number, once spaces, brackets, dots and dashes are left out. */
export function isPhone(text) {
  return PHONE.test(text.replace(/[\s().-]/g, ""));
}

/** Whether `text` looks like an e-mail address. */
export function isEmail(text) {
  return EMAIL.test(text);
}
