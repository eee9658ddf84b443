/**
 * The Claude Code set-up for this relay: the environment variables and the `settings.json`
 * that point Claude Code at the relay's address with a relay key. Shown on the help page and
 * in the dialog that shows a new key.
 */

/** The relay's public base URL as the browser reached it (the front door serves both). */
export function relayBaseUrl(loc: Pick<Location, 'origin'> = window.location): string {
  return loc.origin.replace(/\/+$/, '');
}

/** Placeholder shown where no key is at hand. */
export const KEY_PLACEHOLDER = 'sk-relay-…';

/** Lines for a POSIX shell (`~/.bashrc`, `~/.zshrc`). */
export function shellSetup(baseUrl: string, key: string = KEY_PLACEHOLDER): string {
  return [`export ANTHROPIC_BASE_URL=${baseUrl}`, `export ANTHROPIC_AUTH_TOKEN=${key}`, 'claude'].join('\n');
}

/** Lines for Windows PowerShell. */
export function powershellSetup(baseUrl: string, key: string = KEY_PLACEHOLDER): string {
  return [`$env:ANTHROPIC_BASE_URL="${baseUrl}"`, `$env:ANTHROPIC_AUTH_TOKEN="${key}"`, 'claude'].join('\n');
}

/** `~/.claude/settings.json` (Claude Code reads `env` from it at every start). */
export function settingsJson(baseUrl: string, key: string = KEY_PLACEHOLDER): string {
  return JSON.stringify({ env: { ANTHROPIC_BASE_URL: baseUrl, ANTHROPIC_AUTH_TOKEN: key } }, null, 2);
}

/** A `curl` that checks the key against the relay. */
export function curlCheck(baseUrl: string, key: string = KEY_PLACEHOLDER): string {
  return [
    `curl ${baseUrl}/v1/messages \\`,
    `  -H "x-api-key: ${key}" -H "anthropic-version: 2023-06-01" \\`,
    `  -H "content-type: application/json" \\`,
    `  -d '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}'`,
  ].join('\n');
}
