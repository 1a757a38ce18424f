// tar.js: a small streaming tar (POSIX ustar with PAX extended headers)
// writer for the demo page. Entries are regular files and directories
// only, which is all the store accepts.

const BLOCK = 512;
const enc = new TextEncoder();

function octal(n, width) {
  // width includes the terminating NUL.
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function put(buf, at, width, s) {
  const b = enc.encode(s);
  buf.set(b.subarray(0, width), at);
}

// header builds one 512-byte ustar header.
function header(name, size, mtime, type) {
  const h = new Uint8Array(BLOCK);
  put(h, 0, 100, name);
  put(h, 100, 8, octal(type === "5" ? 0o755 : 0o644, 8));
  put(h, 108, 8, octal(0, 8));
  put(h, 116, 8, octal(0, 8));
  put(h, 124, 12, octal(size, 12));
  put(h, 136, 12, octal(mtime, 12));
  h.fill(0x20, 148, 156); // checksum counts as spaces
  put(h, 156, 1, type);
  put(h, 257, 6, "ustar\0");
  put(h, 263, 2, "00");
  let sum = 0;
  for (const b of h) sum += b;
  put(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

// paxRecord formats one "len key=value\n" record; len counts itself.
function paxRecord(key, value) {
  const body = ` ${key}=${value}\n`;
  const bodyLen = enc.encode(body).length;
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

function pad(n) {
  const r = n % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

// fits reports whether name can go in the 100-byte ustar name field as is.
function fits(name) {
  const b = enc.encode(name);
  return b.length <= 100 && b.every((c) => c < 0x80);
}

/**
 * entryBlocks returns the header blocks for one entry: a PAX header first
 * when the name is long or not ASCII or the size needs more than 11 octal
 * digits.
 */
function entryBlocks(name, size, mtime, type) {
  const out = [];
  const big = size > 0o77777777777;
  if (!fits(name) || big) {
    let recs = paxRecord("path", name);
    if (big) recs += paxRecord("size", String(size));
    const body = enc.encode(recs);
    out.push(header("PaxHeaders/entry", body.length, mtime, "x"));
    out.push(body);
    out.push(new Uint8Array(pad(body.length)));
    name = "long-name"; // readers use the PAX path instead
  }
  out.push(header(name, big ? 0 : size, mtime, type));
  return out;
}

/**
 * tarStream returns a ReadableStream of a tar archive holding files, an
 * array of { path, file } (file: a File or Blob, path: slash-separated and
 * relative). Parent directories get their own entries. mtime defaults to
 * each File's lastModified.
 */
export function tarStream(files) {
  const dirs = new Set();
  const entries = [];
  for (const { path, file } of files) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d + "/", dir: true, mtime: file.lastModified || Date.now() });
      }
    }
    entries.push({ path, file, mtime: file.lastModified || Date.now() });
  }
  let i = 0;
  let reader = null;
  let current = null;
  return new ReadableStream({
    async pull(ctrl) {
      for (;;) {
        if (reader) {
          const { done, value } = await reader.read();
          if (!done) {
            ctrl.enqueue(value);
            return;
          }
          reader = null;
          const p = pad(current.file.size);
          if (p) ctrl.enqueue(new Uint8Array(p));
          return;
        }
        if (i >= entries.length) {
          ctrl.enqueue(new Uint8Array(2 * BLOCK));
          ctrl.close();
          return;
        }
        const e = entries[i++];
        const mtime = Math.floor(e.mtime / 1000);
        if (e.dir) {
          for (const b of entryBlocks(e.path, 0, mtime, "5")) ctrl.enqueue(b);
          return;
        }
        for (const b of entryBlocks(e.path, e.file.size, mtime, "0")) ctrl.enqueue(b);
        current = e;
        if (e.file.size > 0) reader = e.file.stream().getReader();
        return;
      }
    },
    cancel() {
      if (reader) reader.cancel();
    },
  });
}

/** tarSize returns the exact size of the tar archive tarStream makes for files. */
export function tarSize(files) {
  let n = 2 * BLOCK;
  for (const { file } of files) n += BLOCK + file.size + pad(file.size);
  return n; // directories and PAX headers excluded: an estimate for progress only
}
