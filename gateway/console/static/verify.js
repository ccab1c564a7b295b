/*
 * verify.js — the officers' console proves an access-log entry IN THE BROWSER, so a lying server is caught.
 *
 * It checks, with WebCrypto only (SHA-256, Ed25519) and the verifier key the officer pinned in this browser:
 *   key        the pinned key parses as a C2SP signed-note verifier key <name>+<8 hex key ID>+<base64(0x01||pub)>,
 *              and its key ID is SHA-256(name || 0x0A || 0x01 || pub)[0:4];
 *   data       #proof-data is well-formed;
 *   signature  the checkpoint note carries a signature line of the pinned key (name and key ID) whose Ed25519
 *              signature verifies over the note text (everything up to and including its body's last newline);
 *   checkpoint the signed body's origin and tree size are those of #proof-data; its root is read;
 *   leaf       leaf hash = SHA-256(0x00 || entry bytes)              (RFC 9162 §2.1.1);
 *   path       one step per proof element, node = SHA-256(0x01 || left || right)  (RFC 9162 §2.1.3.2);
 *   root       the computed root equals the signed root;
 *   fields     every [data-entry-field] cell shows exactly the proven entry's value (arrays joined with ", ").
 * #proof-result gets data-outcome ok | failed | no-key; when failed also data-failed-step (one of the step names
 * above) and data-reason (a reason key below). Nothing the officer pins is ever sent to the server.
 *
 * Label keys (#proof-labels may give any of them in the page's language; English defaults below):
 *   step.key step.data step.signature step.checkpoint step.leaf step.path step.root step.fields
 *   result.pending result.ok result.failed result.no-key      (result.failed: "{step}" and "{reason}" are replaced)
 *   reason.key-malformed reason.key-id reason.data-malformed reason.note-malformed reason.no-signature
 *   reason.bad-signature reason.body-malformed reason.origin reason.size reason.entry-malformed
 *   reason.proof-malformed reason.proof-length reason.root-mismatch reason.entry-not-json reason.field-mismatch
 *   reason.no-webcrypto reason.error
 */
"use strict";

(() => {
  const STORAGE_KEY = "permitgw.verifierKey";

  const DEFAULT_LABELS = {
    "step.key": "Pinned verifier key",
    "step.data": "Proof data from the server",
    "step.signature": "Checkpoint signature (Ed25519)",
    "step.checkpoint": "Checkpoint origin, size and root",
    "step.leaf": "Leaf hash of the entry",
    "step.path": "Inclusion proof step",
    "step.root": "Computed root equals the signed root",
    "step.fields": "Fields shown equal the proven entry",
    "result.pending": "Verifying…",
    "result.ok": "Verified: this entry is in the log under the checkpoint signed by the pinned key.",
    "result.failed": "Verification FAILED at “{step}”: {reason}",
    "result.no-key": "Pin the log's verifier key to verify this entry in your browser.",
    "reason.key-malformed": "the pinned key is not a valid verifier key",
    "reason.key-id": "the pinned key's ID does not match its name and key",
    "reason.data-malformed": "the proof data sent by the server is malformed",
    "reason.note-malformed": "the checkpoint note is malformed",
    "reason.no-signature": "the checkpoint carries no signature by the pinned key",
    "reason.bad-signature": "the checkpoint signature is not valid",
    "reason.body-malformed": "the signed checkpoint body is malformed",
    "reason.origin": "the checkpoint is for another log",
    "reason.size": "the checkpoint's tree size is not the proof's",
    "reason.entry-malformed": "the entry bytes are not valid base64",
    "reason.proof-malformed": "a proof element is not a SHA-256 hash",
    "reason.proof-length": "the proof has the wrong length for this index and tree size",
    "reason.root-mismatch": "the computed root differs from the signed root",
    "reason.entry-not-json": "the proven entry is not JSON text",
    "reason.field-mismatch": "the page shows a field the proof does not cover",
    "reason.no-webcrypto": "this browser lacks WebCrypto Ed25519",
    "reason.error": "unexpected error",
  };

  class StepFailure extends Error {
    constructor(reason, detail) {
      super(reason);
      this.reason = reason;
      this.detail = detail || "";
    }
  }

  const fail = (reason, detail) => { throw new StepFailure(reason, detail); };

  // --- bytes ------------------------------------------------------------------------------------------------

  const utf8 = new TextEncoder();
  const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  const HEX32 = /^[0-9a-f]{64}$/;

  /** Standard padded base64 with zero pad bits (one encoding per byte string), else StepFailure(reason). */
  function b64decode(text, reason) {
    if (typeof text !== "string" || !B64.test(text)) fail(reason, "base64");
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    if (b64encode(out) !== text) fail(reason, "non-canonical base64");
    return out;
  }

  function b64encode(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  function hexdecode(text, reason) {
    if (typeof text !== "string" || !HEX32.test(text)) fail(reason, String(text).slice(0, 16));
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const short = (bytes) => hex(bytes.subarray(0, 8)) + "…";

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
  }

  // --- verifier key and signed note (c2sp.org/signed-note) --------------------------------------------------

  const HEX8 = /^[0-9a-fA-F]{8}$/;
  const EM_DASH_PREFIX = "\u2014 ";

  function validKeyName(name) {
    return typeof name === "string" && name !== "" && !name.includes("+") && !/[\s\u0000-\u001f]/u.test(name);
  }

  async function parseVerifierKey(text) {
    if (typeof text !== "string") fail("key-malformed");
    const first = text.indexOf("+");
    const second = first < 0 ? -1 : text.indexOf("+", first + 1);
    if (second < 0) fail("key-malformed", "<name>+<key ID>+<key>");
    const name = text.slice(0, first);
    const idHex = text.slice(first + 1, second);
    if (!validKeyName(name) || !HEX8.test(idHex)) fail("key-malformed", "<name>+<key ID>+<key>");
    const material = b64decode(text.slice(second + 1), "key-malformed");
    if (material.length !== 33 || material[0] !== 0x01) fail("key-malformed", "not an Ed25519 key");
    const pub = material.subarray(1);
    const digest = await sha256(utf8.encode(name), Uint8Array.of(0x0a, 0x01), pub);
    const keyId = (((digest[0] << 24) >>> 0) + (digest[1] << 16) + (digest[2] << 8) + digest[3]) >>> 0;
    if (keyId !== parseInt(idHex, 16)) fail("key-id", `${idHex} ≠ ${keyId.toString(16).padStart(8, "0")}`);
    return { name, keyId, pub };
  }

  /** Split a note into its text (bytes that are signed) and its signature lines; syntax only. */
  function parseNote(note) {
    if (typeof note !== "string") fail("note-malformed");
    if (/[\u0000-\u0009\u000b-\u001f]/u.test(note)) fail("note-malformed", "control character");
    const split = note.lastIndexOf("\n\n");
    if (split < 0) fail("note-malformed", "no blank line before the signatures");
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2);
    if (block === "" || !block.endsWith("\n")) fail("note-malformed", "signature block");
    const signatures = [];
    const seen = new Set();
    for (const line of block.slice(0, -1).split("\n")) {
      if (!line.startsWith(EM_DASH_PREFIX)) fail("note-malformed", "signature line");
      const rest = line.slice(EM_DASH_PREFIX.length);
      const space = rest.indexOf(" ");
      const name = space < 0 ? "" : rest.slice(0, space);
      if (!validKeyName(name)) fail("note-malformed", "key name");
      const blob = b64decode(rest.slice(space + 1), "note-malformed");
      if (blob.length < 5) fail("note-malformed", "signature too short");
      const keyId = ((blob[0] << 24) >>> 0) + (blob[1] << 16) + (blob[2] << 8) + blob[3];
      const slot = `${name}+${keyId}`;
      if (seen.has(slot)) fail("note-malformed", "two signatures by one key");
      seen.add(slot);
      signatures.push({ name, keyId, signature: blob.subarray(4) });
    }
    return { text, body: utf8.encode(text), signatures };
  }

  /** A checkpoint body (c2sp.org/tlog-checkpoint): origin, decimal size, base64 root, extension lines. */
  function parseCheckpoint(text) {
    if (!text.endsWith("\n")) fail("body-malformed");
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3 || lines.some((l) => l === "")) fail("body-malformed", "lines");
    const [origin, sizeLine, rootLine] = lines;
    if (!/^(?:0|[1-9][0-9]*)$/.test(sizeLine)) fail("body-malformed", "size");
    const size = BigInt(sizeLine);
    if (size >= 2n ** 64n) fail("body-malformed", "size");
    const root = b64decode(rootLine, "body-malformed");
    if (root.length !== 32) fail("body-malformed", "root");
    return { origin, size, root };
  }

  async function verifyEd25519(pub, signature, message) {
    let key;
    try {
      key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (err) {
      if (err && err.name === "NotSupportedError") fail("no-webcrypto");
      fail("key-malformed", err && err.name);
    }
    if (signature.length !== 64) return false;
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  // --- the entry's fields -----------------------------------------------------------------------------------

  /** How a value of the proven entry is shown in its cell: arrays joined with ", ", everything else as text. */
  function shown(value) {
    if (Array.isArray(value)) return value.map(shown).join(", ");
    if (value === null || value === undefined) return "";
    return String(value);
  }

  // --- the page ---------------------------------------------------------------------------------------------

  function readLabels() {
    const labels = Object.assign({}, DEFAULT_LABELS);
    const el = document.getElementById("proof-labels");
    if (el) {
      try {
        const given = JSON.parse(el.textContent);
        for (const [k, v] of Object.entries(given)) if (typeof v === "string") labels[k] = v;
      } catch (_) { /* defaults stay */ }
    }
    return labels;
  }

  function readPinned() {
    try {
      const value = window.localStorage.getItem(STORAGE_KEY);
      return value === null || value.trim() === "" ? null : value.trim();
    } catch (_) {
      return null;
    }
  }

  let generation = 0;

  class Run {
    constructor(labels) {
      this.labels = labels;
      this.id = ++generation;
      this.list = document.getElementById("proof-steps");
      this.result = document.getElementById("proof-result");
    }

    live() { return this.id === generation; }

    label(key) { return this.labels[key] || DEFAULT_LABELS[key] || key; }

    step(name, ok, detail, labelSuffix) {
      if (!this.live() || !this.list) return;
      const li = document.createElement("li");
      li.dataset.step = name;
      li.dataset.ok = ok ? "true" : "false";
      const title = document.createElement("span");
      title.className = "proof-step-label";
      title.textContent = this.label(`step.${name}`) + (labelSuffix || "");
      li.appendChild(title);
      if (detail) {
        li.appendChild(document.createTextNode(": "));
        const code = document.createElement("code");
        code.textContent = detail;
        li.appendChild(code);
      }
      this.list.appendChild(li);
    }

    outcome(outcome, text, failedStep, reason) {
      if (!this.live() || !this.result) return;
      this.result.dataset.outcome = outcome;
      if (failedStep) this.result.dataset.failedStep = failedStep;
      else delete this.result.dataset.failedStep;
      if (reason) this.result.dataset.reason = reason;
      else delete this.result.dataset.reason;
      this.result.textContent = text;
    }

    start() {
      if (this.list) this.list.replaceChildren();
      this.outcome("pending", this.label("result.pending"));
    }

    failed(stepName, err, labelSuffix) {
      const isStep = err instanceof StepFailure;
      const reason = isStep ? err.reason : "error";
      const detail = isStep ? err.detail : String((err && err.name) || "Error");
      this.step(stepName, false, [this.label(`reason.${reason}`), detail].filter(Boolean).join(" — "), labelSuffix);
      const text = this.label("result.failed")
        .replace("{step}", this.label(`step.${stepName}`))
        .replace("{reason}", this.label(`reason.${reason}`));
      this.outcome("failed", text, stepName, reason);
    }
  }

  /** Run the named step; on any exception mark it failed and stop (returns undefined). */
  async function attempt(run, name, fn, labelSuffix) {
    try {
      return { value: await fn() };
    } catch (err) {
      run.failed(name, err, labelSuffix);
      return null;
    }
  }

  async function verify() {
    const run = new Run(readLabels());
    run.start();
    if (!window.crypto || !window.crypto.subtle) {
      run.failed("key", new StepFailure("no-webcrypto"));
      return;
    }
    const pinned = readPinned();
    if (pinned === null) {
      run.outcome("no-key", run.label("result.no-key"));
      return;
    }

    const key = await attempt(run, "key", async () => {
      const k = await parseVerifierKey(pinned);
      run.step("key", true, `${k.name}+${k.keyId.toString(16).padStart(8, "0")}`);
      return k;
    });
    if (!key) return;

    const data = await attempt(run, "data", () => {
      const el = document.getElementById("proof-data");
      if (!el) fail("data-malformed", "#proof-data");
      let d;
      try { d = JSON.parse(el.textContent); } catch (_) { fail("data-malformed", "JSON"); }
      if (d === null || typeof d !== "object") fail("data-malformed");
      if (!Number.isSafeInteger(d.index) || d.index < 0) fail("data-malformed", "index");
      if (!Number.isSafeInteger(d.size) || d.size < 0) fail("data-malformed", "size");
      if (typeof d.entry !== "string" || typeof d.checkpoint !== "string" || typeof d.origin !== "string"
          || !Array.isArray(d.proof)) fail("data-malformed");
      run.step("data", true, `index ${d.index}, size ${d.size}, ${d.proof.length} proof hashes`);
      return d;
    });
    if (!data) return;
    const d = data.value;

    const note = await attempt(run, "signature", async () => {
      const n = parseNote(d.checkpoint);
      const sig = n.signatures.find((s) => s.name === key.value.name && s.keyId === key.value.keyId);
      if (!sig) fail("no-signature", `${key.value.name}+${key.value.keyId.toString(16).padStart(8, "0")}`);
      if (!(await verifyEd25519(key.value.pub, sig.signature, n.body))) fail("bad-signature", short(sig.signature));
      run.step("signature", true, short(sig.signature));
      return n;
    });
    if (!note) return;

    const checkpoint = await attempt(run, "checkpoint", () => {
      const cp = parseCheckpoint(note.value.text);
      if (cp.origin !== d.origin) fail("origin", cp.origin);
      if (cp.size !== BigInt(d.size)) fail("size", `${cp.size} ≠ ${d.size}`);
      run.step("checkpoint", true, `${cp.origin}, ${cp.size}, root ${short(cp.root)}`);
      return cp;
    });
    if (!checkpoint) return;

    const leaf = await attempt(run, "leaf", async () => {
      const entry = b64decode(d.entry, "entry-malformed");
      const h = await sha256(Uint8Array.of(0x00), entry);
      run.step("leaf", true, short(h));
      return { entry, hash: h };
    });
    if (!leaf) return;

    // RFC 9162 §2.1.3.2, with BigInt: sizes go to 2^64-1 and JavaScript's bit operators are 32-bit.
    let fn = BigInt(d.index);
    let sn = BigInt(d.size) - 1n;
    let r = leaf.value.hash;
    if (fn > sn) {
      run.failed("path", new StepFailure("proof-length", `index ${d.index} ≥ size ${d.size}`));
      return;
    }
    for (let i = 0; i < d.proof.length; i++) {
      const suffix = ` ${i + 1}/${d.proof.length}`;
      const ok = await attempt(run, "path", async () => {
        const p = hexdecode(d.proof[i], "proof-malformed");
        if (sn === 0n) fail("proof-length", `${d.proof.length} hashes`);
        if ((fn & 1n) === 1n || fn === sn) {
          r = await sha256(Uint8Array.of(0x01), p, r);
          while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
        } else {
          r = await sha256(Uint8Array.of(0x01), r, p);
        }
        fn >>= 1n;
        sn >>= 1n;
        run.step("path", true, short(r), suffix);
        return true;
      }, suffix);
      if (!ok) return;
    }
    if (sn !== 0n) {
      run.failed("path", new StepFailure("proof-length", `${d.proof.length} hashes`));
      return;
    }

    const rootOk = await attempt(run, "root", () => {
      if (!equal(r, checkpoint.value.root)) fail("root-mismatch", `${short(r)} ≠ ${short(checkpoint.value.root)}`);
      run.step("root", true, short(r));
      return true;
    });
    if (!rootOk) return;

    const fieldsOk = await attempt(run, "fields", () => {
      let entry;
      try {
        entry = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(leaf.value.entry));
      } catch (_) {
        fail("entry-not-json");
      }
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) fail("entry-not-json");
      const cells = document.querySelectorAll("[data-entry-field]");
      for (const cell of cells) {
        const name = cell.dataset.entryField;
        if (!Object.prototype.hasOwnProperty.call(entry, name)) fail("field-mismatch", name);
        if (cell.textContent.trim() !== shown(entry[name])) fail("field-mismatch", name);
        cell.dataset.verified = "true";
      }
      run.step("fields", true, String(cells.length));
      return true;
    });
    if (!fieldsOk) return;

    run.outcome("ok", run.label("result.ok"));
  }

  function start() {
    verify().catch((err) => {
      // verify() handles every step's failure itself; this is the last net so nothing escapes uncaught.
      try { new Run(readLabels()).failed("data", err); } catch (_) { /* no page to report on */ }
    });
  }

  function wirePinForm() {
    const form = document.getElementById("pin-key");
    if (!form) return;
    form.addEventListener("submit", (event) => {
      event.preventDefault(); // the key stays in this browser: the form is never submitted to the server
      const input = form.elements.namedItem("verifier_key");
      const value = input && typeof input.value === "string" ? input.value.trim() : "";
      try {
        if (value === "") window.localStorage.removeItem(STORAGE_KEY);
        else window.localStorage.setItem(STORAGE_KEY, value);
      } catch (_) { /* storage refused: the run below reports no-key */ }
      start();
    });
  }

  function init() {
    wirePinForm();
    start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
