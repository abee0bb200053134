// An evaluator's browser, independent of the worker's: Playwright driving
// Debian's Chromium loads a published page and runs a brief's `js:` checks
// in it, the way an evaluator's grading script does.
//
// stdin:  {"url": "http://…/", "checks": ["js: document.title === 'x'", "Repo has MIT license"]}
// stdout: one line, {"verdicts": [{"check", "passed", "value", "error"}]},
//         one verdict per `js:` check, in order; plain-English checks are
//         skipped.
// Exits non-zero (with the reason on stderr) when the browser cannot start
// or the page cannot be loaded.
//
// Never downloads a browser: it runs $CHROMIUM, else /usr/bin/chromium.

import { chromium } from 'playwright-core';

const JS_PREFIX = 'js:';
const SETTLE_MS = 250;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** `value` as JSON can carry it: `undefined` and the unserializable become null. */
function jsonable(value) {
  if (value === undefined) return null;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? null : JSON.parse(text);
  } catch {
    return String(value);
  }
}

function fail(message) {
  process.stderr.write(`evaluate.mjs: ${message}\n`);
  process.exitCode = 1;
}

async function main() {
  let input;
  try {
    input = JSON.parse(await readStdin());
  } catch (e) {
    return fail(`stdin is not JSON: ${e.message}`);
  }
  const { url, checks } = input ?? {};
  if (typeof url !== 'string' || !Array.isArray(checks)) {
    return fail('stdin must be {"url": string, "checks": [string]}');
  }

  let browser;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      // Playwright adds --no-sandbox itself when chromiumSandbox is false
      // (the default); it is named here too, as the evaluator's setup does.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (e) {
    return fail(`cannot launch chromium: ${e.message}`);
  }

  try {
    const page = await browser.newPage();
    try {
      await page.goto(url, { waitUntil: 'networkidle' });
    } catch (e) {
      return fail(`cannot load ${url}: ${e.message}`);
    }
    await page.waitForTimeout(SETTLE_MS);

    const verdicts = [];
    for (const check of checks) {
      if (typeof check !== 'string' || !check.startsWith(JS_PREFIX)) continue;
      const expression = check.slice(JS_PREFIX.length).trim();
      try {
        const result = await page.evaluate(expression);
        verdicts.push({ check, passed: result === true, value: jsonable(result), error: null });
      } catch (e) {
        // The first line: Playwright appends its own stack after it.
        const message = String(e?.message ?? e).split('\n')[0];
        verdicts.push({ check, passed: false, value: null, error: message });
      }
    }
    process.stdout.write(`${JSON.stringify({ verdicts })}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => fail(e?.stack ?? String(e)));
