// Small DOM helpers shared by every page: building elements, finding them by id or by the
// data-ref / data-call-ref names the templates give them, and copying a <template>.

/** A new `tag` element with `className` (if any) and `text` as its text (if given). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The page's element with this id (null if none). */
export function byId(id) {
  return document.getElementById(id);
}

/** The element marked data-ref="name" inside `node`. */
export function ref(node, name) {
  return node.querySelector(`[data-ref="${name}"]`);
}

/** A copy of the first element of <template id=...>. */
export function clone(templateId) {
  return byId(templateId).content.firstElementChild.cloneNode(true);
}
