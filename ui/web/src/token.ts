// Where the control token comes from.
//
// The UI actor writes it into index.html (<meta name="cockpit-token">) only when the page is
// requested from a loopback address with a loopback Host header; every other client gets an
// empty meta and the operator pastes the token (kept in sessionStorage for this tab only).

const KEY = 'cockpit-token';
const TOKEN_RE = /^[0-9a-f]{32,128}$/;

export function injectedToken(): string {
  const meta = document.querySelector('meta[name="cockpit-token"]');
  const v = meta?.getAttribute('content')?.trim() ?? '';
  return TOKEN_RE.test(v) ? v : '';
}

export function getToken(): string {
  const injected = injectedToken();
  if (injected) return injected;
  try {
    const v = sessionStorage.getItem(KEY) ?? '';
    return TOKEN_RE.test(v) ? v : '';
  } catch {
    return '';
  }
}

/** Replace the injected token (the page's meta) after the server restarted with a new one. */
export function setInjectedToken(v: string): void {
  document.querySelector('meta[name="cockpit-token"]')?.setAttribute('content', v);
}

/** Store a pasted token; returns an error message or null. */
export function setPastedToken(text: string): string | null {
  const v = text.trim().toLowerCase();
  if (!TOKEN_RE.test(v)) return 'a token is 32 to 128 hex characters (see the token file)';
  try {
    sessionStorage.setItem(KEY, v);
  } catch {
    return 'this browser refuses sessionStorage';
  }
  return null;
}

/**
 * Fetch the page again and read the token the server injects (loopback only): after the UI
 * actor restarted with a new token, an open cockpit recovers without a reload. '' when none.
 */
export async function refetchInjectedToken(): Promise<string> {
  try {
    const r = await fetch('/', { cache: 'no-store' });
    if (!r.ok) return '';
    const html = await r.text();
    const m = html.match(/<meta name="cockpit-token" content="([0-9a-f]*)"/);
    const v = m?.[1] ?? '';
    return TOKEN_RE.test(v) ? v : '';
  } catch {
    return '';
  }
}
