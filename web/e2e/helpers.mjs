// Small helpers of the browser suite: TDesign's popups and inputs, money texts, charts.

const WAIT = 15_000;

/** Picks `text` from the open TDesign select or dropdown popup. */
export async function pick(p, text) {
  const option = p.locator('.t-popup:visible').locator('.t-select-option, .t-dropdown__item').filter({ hasText: text }).first();
  await option.click();
}

/** Clicks the confirm button of the open confirmation dialog. */
export async function confirmDialog(p, text) {
  const dialog = p.locator('.t-dialog:visible').last();
  await dialog.getByRole('button', { name: text }).click();
}

/** The value of a TDesign input found by its test id (the id lands on the wrapper). */
export async function inputValue(p, testid) {
  const el = p.locator(`[data-testid="${testid}"]`);
  const tag = await el.evaluate((n) => n.tagName.toLowerCase());
  return tag === 'input' ? el.inputValue() : el.locator('input').inputValue();
}

/** Whether a money text (`$0.0198`) is `micro` µUSD rounded to the digits it shows. */
export function moneyShows(text, micro) {
  const digits = (text.split('.')[1] ?? '').length;
  const shown = Number(text.replace(/[$,]/g, '')) * 1_000_000;
  return Math.abs(shown - micro) <= 0.5 * 10 ** (6 - digits) + 1e-6;
}

/** Waits until the chart in `locator` has finished drawing. */
export async function chartDrawn(locator) {
  await locator.and(locator.page().locator('[data-rendered="true"]')).waitFor({ timeout: WAIT });
}

export async function signIn(p, username, password) {
  await p.locator('input[name="username"]').fill(username);
  await p.locator('input[name="password"]').fill(password);
  await p.locator('[data-testid="login-form"] button[type="submit"]').click();
}
