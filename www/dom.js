// Small DOM helpers shared by the demo's modules. Nothing here accepts markup: every string that
// comes from event data or a homeserver is inserted as text (textContent), and where it stands in
// a line of other text, inside a <bdi> so that it cannot reorder its surroundings.

/**
 * Creates an element. `props` may hold `className`, `testid`, `text`, `title`, `hidden`, `type`,
 * `href`, `id`, `disabled`, `attrs` (plain attributes) and `data` (an object of data-* attributes);
 * children are nodes or strings (text).
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    switch (key) {
      case "className": node.className = value; break;
      case "testid": node.dataset.testid = value; break;
      case "text": node.textContent = value; break;
      case "title": node.title = value; break;
      case "hidden": node.hidden = Boolean(value); break;
      case "disabled": node.disabled = Boolean(value); break;
      case "type": node.type = value; break;
      case "href": node.setAttribute("href", value); break;
      case "id": node.id = value; break;
      case "attrs":
        for (const [name, attr] of Object.entries(value)) {
          if (attr !== undefined && attr !== null) node.setAttribute(name, String(attr));
        }
        break;
      case "data":
        for (const [name, data] of Object.entries(value)) {
          if (data !== undefined && data !== null) node.dataset[name] = String(data);
        }
        break;
      default: throw new Error(`h(): unsupported property ${key}`);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** A piece of untrusted text, isolated from the text around it. */
export function untrusted(text, props = {}) {
  return h("bdi", { ...props, text: String(text) });
}

/** The element with this data-testid (the page's ids for tests and code alike). */
export const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

/**
 * `{ code, message }` of anything thrown. prejoin's errors and the homeserver client's
 * (matrix.js) carry a string `code`; anything else is UNKNOWN with its message.
 */
export function errorInfo(error) {
  const code = typeof error?.code === "string" && error.code !== "" ? error.code : "UNKNOWN";
  const message = typeof error?.message === "string" ? error.message : String(error);
  return { code, message };
}

/** An error shown inline: its code, then its message. */
export function errorLine(error, testid, className = "error-line") {
  const { code, message } = errorInfo(error);
  return h("p", { className, testid, data: { code }, attrs: { role: "alert" } },
    h("code", { className: "error-code", text: code }), " ", untrusted(message));
}

/**
 * JSON for display: C1 controls, bidi and other invisible format characters are shown as \uXXXX
 * escapes (still valid JSON), so the raw view cannot hide or reorder anything. JSON.stringify
 * already escapes C0 controls inside strings; outside strings it only writes the layout's
 * newlines, which stay.
 */
export function displayJson(value) {
  const text = JSON.stringify(value, null, 2) ?? String(value);
  return text.replace(
    /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

export function badge(text, testid, kind = "") {
  return h("span", { className: `badge ${kind}`.trim(), testid, text });
}

export function plural(count, word, words = `${word}s`) {
  return `${count} ${count === 1 ? word : words}`;
}
