#!/usr/bin/env node
// Parse-check Mermaid flowchart files offline (no browser, no DOM).
// Usage: node check.mjs FILE.mmd [FILE2.mmd ...]     ("-" reads stdin)
// Env:   MERMAID_ALLOW_ANY=1  accept any diagram type mermaid knows (default: flowchart/graph only)
// Exit:  0 = all valid; 1 = at least one invalid (error on stderr); 2 = usage / IO error.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

// mermaid sanitises node/edge label text with DOMPurify, which needs a `window`
// (without one: "DOMPurify.addHook is not a function"). Provide a bare jsdom window
// BEFORE mermaid (and thus dompurify) is imported - hence the dynamic import below.
const { window } = new JSDOM('');
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import('mermaid');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check.mjs FILE.mmd [...]  ("-" = stdin)');
  process.exit(2);
}
// securityLevel etc. do not matter for parse(); startOnLoad would touch `document`.
mermaid.initialize({ startOnLoad: false });

const allowAny = process.env.MERMAID_ALLOW_ANY === '1';
let failed = 0;
for (const f of files) {
  let text;
  try {
    text = readFileSync(f === '-' ? 0 : f, 'utf8');
  } catch (e) {
    console.error(`${f}: cannot read: ${e.message}`);
    process.exit(2);
  }
  try {
    // Rejects with the jison/langium parse error on bad syntax,
    // or "No diagram type detected ..." (UnknownDiagramError) on an unknown header.
    const { diagramType } = await mermaid.parse(text);
    // 'graph' and 'flowchart' headers both yield 'flowchart-v2' (or 'flowchart' / 'flowchart-elk').
    if (!allowAny && !diagramType.startsWith('flowchart')) {
      console.error(`${f}: parsed, but diagram type is '${diagramType}', not a flowchart`);
      failed++;
      continue;
    }
    console.log(`${f}: OK (${diagramType})`);
  } catch (e) {
    console.error(`${f}: INVALID\n${e?.message ?? e}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
