// Browser test of the notebooks in the classic Jupyter Notebook UI (headless Chromium, playwright-core).
// Run it through scripts/browser-test.sh, which starts the Notebook server and installs playwright-core
// outside the repository. It opens a notebook, clears its saved outputs, runs all cells from the
// Cell menu, and asserts that every code cell ran, that no cell has an error output, and that a plot
// (an SVG chart) or a picture (a PNG) is rendered. It writes a full-page screenshot to $SCREENSHOT.
//
// Environment: NOTEBOOK_URL (the notebook's page, token included), PLAYWRIGHT_DIR (the folder whose
// node_modules holds playwright-core), SCREENSHOT (PNG path), CHROMIUM (default /usr/bin/chromium),
// RUN_TIMEOUT_MS (default 900000).
import { createRequire } from 'node:module';

const require = createRequire((process.env.PLAYWRIGHT_DIR || '/tmp/binnet-browser-test') + '/');
const { chromium } = require('playwright-core');

const url = process.env.NOTEBOOK_URL;
const screenshot = process.env.SCREENSHOT || '/tmp/binnet-browser-test/notebook.png';
const runTimeout = Number(process.env.RUN_TIMEOUT_MS || 900000);
if (!url) {
	console.error('NOTEBOOK_URL is not set');
	process.exit(2);
}

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
		'--disable-component-update', '--disable-sync', '--no-first-run'],
});
let failed = false;
try {
	const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
	const consoleErrors = [];
	page.on('pageerror', (e) => consoleErrors.push(String(e)));
	await page.goto(url, { waitUntil: 'load' });
	await page.waitForFunction(() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel &&
		Jupyter.notebook.kernel.is_connected(), null, { timeout: 120000 });
	const kernelName = await page.evaluate(() => Jupyter.notebook.kernel.name);
	console.log(`notebook open, kernel ${kernelName}`);
	if (kernelName !== 'gonb') throw new Error(`kernel is ${kernelName}, want gonb`);
	// Never write this test's outputs into the repository's notebook.
	await page.evaluate(() => { Jupyter.notebook.set_autosave_interval(0); Jupyter.notebook.clear_all_output(); });
	const before = await page.evaluate(() => document.querySelectorAll('.output_subarea svg, .output_subarea img').length);
	if (before !== 0) throw new Error(`${before} SVG or PNG outputs remain after clearing the outputs`);

	// Cell > Run All, as a user would.
	const start = Date.now();
	await page.click('#celllink');
	await page.click('#run_all_cells > a');
	console.log('Cell > Run All clicked');
	let last = '';
	await page.waitForFunction(() => {
		const cells = Jupyter.notebook.get_cells().filter((c) => c.cell_type === 'code');
		const done = cells.every((c) => typeof c.input_prompt_number === 'number');
		const busy = document.querySelector('#kernel_indicator_icon.kernel_busy_icon') !== null;
		return done && !busy;
	}, null, { timeout: runTimeout, polling: 1000 }).catch(async (e) => {
		last = await page.evaluate(() => Jupyter.notebook.get_cells().map((c) => c.input_prompt_number).join(','));
		throw new Error(`cells did not all run within ${runTimeout / 1000} s (prompts: ${last}): ${e.message}`);
	});
	console.log(`all cells ran in ${((Date.now() - start) / 1000).toFixed(0)} s`);

	// The text the notebook's training cell prints when it trained (BROWSER_EXPECT, set by browser-test.sh).
	const expected = process.env.BROWSER_EXPECT || 'test accuracy of the fully binary network';
	const report = await page.evaluate((expected) => {
		const cells = Jupyter.notebook.get_cells().filter((c) => c.cell_type === 'code');
		const errors = [];
		cells.forEach((c, i) => c.output_area.outputs.forEach((o) => {
			if (o.output_type === 'error') errors.push(`cell ${i + 1}: ${o.ename}: ${o.evalue}`);
		}));
		document.querySelectorAll('.output_error').forEach((e) => errors.push(`error output: ${e.innerText.slice(0, 300)}`));
		const text = Array.from(document.querySelectorAll('.output_area')).map((e) => e.innerText).join('\n');
		for (const bad of ['panic:', 'Error:', 'cannot use', 'undefined:']) {
			if (text.includes(bad)) errors.push(`output contains "${bad}"`);
		}
		const plots = Array.from(document.querySelectorAll('.output_subarea svg')).filter((s) => {
			const r = s.getBoundingClientRect();
			return r.width > 300 && r.height > 200 && s.querySelectorAll('polyline').length > 0;
		});
		// PNG outputs (pictures of images), decoded by the browser.
		const images = Array.from(document.querySelectorAll('.output_subarea img')).filter((im) =>
			im.complete && im.naturalWidth >= 200 && im.naturalHeight >= 20);
		return {
			codeCells: cells.length, errors, plots: plots.length, images: images.length,
			trained: text.includes(expected),
		};
	}, expected);
	console.log(JSON.stringify(report));
	// The classic Notebook scrolls inside #site: let it grow so that the screenshot shows every cell.
	await page.evaluate(() => {
		for (const sel of ['html', 'body', '#site']) {
			const e = document.querySelector(sel);
			e.style.height = 'auto';
			e.style.overflow = 'visible';
		}
	});
	await page.screenshot({ path: screenshot, fullPage: true });
	console.log(`screenshot: ${screenshot}`);
	if (report.errors.length > 0) throw new Error(`error outputs: ${report.errors.join('; ')}`);
	if (report.plots + report.images < 1) throw new Error('no rendered plot (SVG chart) or picture (PNG) in the outputs');
	if (!report.trained) throw new Error(`the training cell did not print "${expected}"`);
	if (consoleErrors.length > 0) console.log(`page errors (not fatal): ${consoleErrors.join('; ')}`);
	console.log(`PASS: ${report.codeCells} code cells ran without error, ${report.plots} plots and ${report.images} pictures rendered`);
} catch (e) {
	failed = true;
	console.error(`FAIL: ${e.message}`);
} finally {
	await browser.close();
}
process.exit(failed ? 1 : 0);
