// Parses every ```mermaid block of the Markdown files given with Mermaid's own parser.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMPurify = undefined;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let blocks = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, "utf8");
  const re = /```mermaid\n([\s\S]*?)```/g;
  for (const m of text.matchAll(re)) {
    blocks++;
    try {
      await mermaid.parse(m[1]);
    } catch (e) {
      failed++;
      console.error(`${file}: block ${blocks}: ${e.message ?? e}`);
    }
  }
}
console.log(`mermaid: ${blocks} diagram(s), ${failed} rejected`);
process.exit(failed > 0 || blocks === 0 ? 1 : 0);
