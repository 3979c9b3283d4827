// Opens pages of the bot's web side in Debian's Chromium, headless, driven
// by playwright-core (pinned in package.json), and says what a person sees:
//
//   node browse.mjs JOB.json
//
// JOB: {"dir": where screenshots go, "pages": [{"name", "url",
// "vote": {"poll": N, "answers": {"d1": "y", ...}} (optional)}]}.
// Prints one JSON object: for each page its HTTP status, its <html lang>,
// its grids read back from the DOM (dates, each person's answers, the
// totals, the leading date, the dates past), the page's width at 390 px
// (no sideways scrolling), the screenshots made at 390 and 1280 px, and
// axe-core's violations; for a page with "vote", the same after the form
// was filled and sent.
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, "node_modules/axe-core/axe.min.js"), "utf8");
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));

// What the grids show, read from the DOM as a reader would: text, not
// the page's own data.
function readGrids() {
  const out = {};
  for (const table of document.querySelectorAll("table")) {
    const num = table.caption.textContent.match(/#(\d+)/)[1];
    const heads = [...table.tHead.rows[0].cells].slice(1);
    const g = {
      dates: heads.map((th) => th.firstChild.textContent.trim()),
      lead: heads.findIndex((th) => th.classList.contains("lead")),
      past: heads.map((th) => th.classList.contains("past")),
      rows: {},
      mine: null,
      totals: {},
    };
    for (const tr of table.tBodies[0].rows) {
      const who = tr.cells[0].textContent.trim();
      const cells = [...tr.cells].slice(1);
      if (tr.querySelector("select")) g.mine = cells.map((td) => td.querySelector("select").value);
      else g.rows[who] = cells.map((td) => td.textContent.trim());
    }
    const foot = [...table.tFoot.rows];
    g.totals.yes = [...foot[0].cells].slice(1).map((td) => Number(td.textContent));
    g.totals.maybe = [...foot[1].cells].slice(1).map((td) => Number(td.textContent));
    out[num] = g;
  }
  return out;
}

async function look(page, name, width) {
  await page.setViewportSize({ width, height: 900 });
  const shot = join(job.dir, `${name}-${width}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
  return { shot, scroll };
}

async function axe(page) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
}

async function visit(page, p) {
  const res = await page.goto(p.url);
  const got = { status: res.status() };
  if (res.status() !== 200) return got;
  got.lang = await page.evaluate(() => document.documentElement.lang);
  got.grids = await page.evaluate(readGrids);
  got.narrow = await look(page, p.name, 390);
  got.wide = await look(page, p.name, 1280);
  got.axe = await axe(page);
  if (p.vote) {
    const form = page.locator(`form:has(input[name=p][value="${p.vote.poll}"])`);
    for (const [field, value] of Object.entries(p.vote.answers))
      await form.locator(`select[name=${field}]`).selectOption(value);
    const [resp] = await Promise.all([page.waitForNavigation(), form.locator("button[type=submit]").click()]);
    got.voted = { status: resp.status(), note: await page.locator(".note").textContent() };
    got.voted.grids = await page.evaluate(readGrids);
    got.voted.axe = await axe(page);
    got.voted.wide = await look(page, p.name + "-voted", 1280);
  }
  return got;
}

const profile = mkdtempSync(join(tmpdir(), "ensemble-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const result = {};
try {
  const page = await context.newPage();
  for (const p of job.pages) result[p.name] = await visit(page, p);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + "\n");
