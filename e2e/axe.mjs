// axe-core (pinned in tools/package.json) in the page, for e2e/chat.mjs and
// e2e/permissions.mjs: WCAG 2.0–2.2 A and AA and the best practices (one
// main landmark, one h1, content in landmarks...). Violations of any impact
// are collected, so that one run lists them all; the test fails at its end
// when there are any (`axeFailures()`).

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "tools", "package.json"));
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];

const violations = [];
const screens = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Checks `page` as it is now; `dark` checks it in dark mode too. */
export async function axeCheck(page, screen, { dark = false } = {}) {
  for (const scheme of dark ? ["light", "dark"] : [null]) {
    if (scheme) await page.emulateMedia({ colorScheme: scheme });
    const name = scheme === "dark" ? `${screen} (dark)` : screen;
    // Transitions and the reconnecting pulse settle before colours are read.
    await sleep(300);
    if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
    const result = await page.evaluate((values) => window.axe.run(document, { runOnly: { type: "tag", values }, resultTypes: ["violations"] }), TAGS);
    screens.push(name);
    for (const v of result.violations) {
      const targets = v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")}${n.any[0]?.message ? ` (${n.any[0].message})` : ""}`);
      const line = `${name}: ${v.id} [${v.impact}] ${v.help} — ${v.nodes.length} node(s): ${targets.join("; ")}`;
      violations.push(line);
      console.log(`[axe] ${line}`);
    }
    console.log(`[axe] ${name}: ${result.violations.length} violation(s)`);
  }
  if (dark) await page.emulateMedia({ colorScheme: null });
}

/** Null when every screen checked was clean, else what was found. */
export function axeFailures() {
  console.log(`[axe] ${screens.length} screens checked, ${violations.length} violation(s)`);
  if (screens.length === 0) return "axe-core checked no screen";
  if (violations.length === 0) return null;
  return `axe-core: accessibility violations on ${screens.join(", ")}:\n${violations.join("\n")}`;
}
