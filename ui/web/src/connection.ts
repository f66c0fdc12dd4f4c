// The WebSocket link: authenticate, receive frames into the store, reconnect with backoff.
//
// The token travels as a WebSocket subprotocol ("token.<hex>") beside "cockpit.v1": browsers
// cannot set headers on an upgrade and a query string would end up in logs. The server
// answers with "cockpit.v1" only.

import type { FrameStore } from './store';

export type LinkState =
  | 'connecting'
  | 'live'
  | 'stale'
  | 'reconnecting'
  | 'needs-token'
  | 'incompatible';

export const WS_PROTOCOL = 'cockpit.v1';
/** No frame for this long while live: the link is shown as stale (server sends 20 Hz). */
export const STALE_AFTER_MS = 1500;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;

export interface LinkInfo {
  state: LinkState;
  attempts: number;
  lastFrameAt: number;
  detail: string;
}

export class Connection {
  private ws: WebSocket | null = null;
  private backoffMs = BACKOFF_MIN_MS;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private staleTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  info: LinkInfo = { state: 'connecting', attempts: 0, lastFrameAt: 0, detail: '' };

  constructor(
    private readonly store: FrameStore,
    private readonly token: () => string,
    private readonly onChange: () => void,
    private readonly url: string = defaultWsUrl(),
    /** Ask the server for a fresh injected token (after it restarted); '' when there is none. */
    private readonly refreshToken: () => Promise<string> = async () => '',
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
    this.staleTimer = setInterval(() => {
      if (this.info.state === 'live' && performance.now() - this.info.lastFrameAt > STALE_AFTER_MS) {
        this.set('stale', 'no frame for over 1.5 s');
      }
    }, 250);
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.staleTimer) clearInterval(this.staleTimer);
    this.ws?.close(1000, 'page closed');
    this.ws = null;
  }

  /** Reconnect now (after the operator pasted a token, or pressed reconnect). */
  reconnectNow(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.backoffMs = BACKOFF_MIN_MS;
    this.ws?.close(1000, 'reconnect');
    this.ws = null;
    this.open();
  }

  private set(state: LinkState, detail = ''): void {
    if (this.info.state === state && this.info.detail === detail) return;
    this.info = { ...this.info, state, detail };
    this.onChange();
  }

  private open(): void {
    if (this.stopped) return;
    const token = this.token();
    if (!token) {
      this.set('needs-token', 'paste the token the UI actor printed at start');
      return;
    }
    this.info = { ...this.info, attempts: this.info.attempts + 1 };
    this.set(this.info.attempts > 1 ? 'reconnecting' : 'connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, [WS_PROTOCOL, `token.${token}`]);
    } catch (e) {
      this.scheduleRetry(`cannot open socket: ${(e as Error).message}`);
      return;
    }
    this.ws = ws;
    this.store.resetConnection();
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      const out = this.store.acceptText(ev.data);
      this.info.lastFrameAt = performance.now();
      if (out.kind === 'version') {
        this.stopped = true;
        this.set('incompatible', this.store.versionError ?? 'protocol version mismatch');
        ws.close(1000, 'incompatible version');
        return;
      }
      if (out.kind === 'snapshot') this.backoffMs = BACKOFF_MIN_MS;
      if (this.store.lastSeq >= 0) this.set('live');
      this.onChange();
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      // A refused upgrade (bad token, foreign Origin) closes with 1006 and no reason: ask the
      // server whether the token is the problem so the operator is told what to do.
      void checkToken(token).then(async (ok) => {
        if (this.stopped) return;
        if (ok === false) {
          const fresh = await this.refreshToken();
          if (fresh && fresh !== token) {
            this.scheduleRetry('the server has a new token');
            return;
          }
          this.set('needs-token', 'the server refused the token');
          return;
        }
        this.scheduleRetry(ev.reason || `closed (code ${ev.code})`);
      });
    };
  }

  private scheduleRetry(detail: string): void {
    this.set('reconnecting', detail);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }
}

export function defaultWsUrl(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}

/** true: token accepted; false: refused; null: server unreachable. */
export async function checkToken(token: string): Promise<boolean | null> {
  try {
    const r = await fetch('/api/auth', { headers: { authorization: `Bearer ${token}` } });
    if (r.status === 204 || r.ok) return true;
    if (r.status === 401 || r.status === 403) return false;
    return null;
  } catch {
    return null;
  }
}
