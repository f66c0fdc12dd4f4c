// Control actions. Each needs the token; the browser adds the Origin header itself and the
// server refuses any Origin other than its own.

export interface KillReply {
  ok: boolean;
  already_set: boolean;
  received_ns: number;
  flag_written_ns: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function post<T>(path: string, token: string, body: unknown): Promise<T> {
  let r: Response;
  try {
    r = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, `UI actor unreachable: ${(e as Error).message}`);
  }
  const text = await r.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* non-JSON error body: use the text */
  }
  if (!r.ok) {
    const msg = (json as { error?: string } | null)?.error ?? (text || r.statusText);
    throw new ApiError(r.status, `${r.status}: ${msg}`);
  }
  return json as T;
}

export function postKill(token: string, reason: string): Promise<KillReply> {
  return post<KillReply>('/api/kill', token, { reason });
}

export function postRearm(token: string): Promise<{ ok: boolean }> {
  return post<{ ok: boolean }>('/api/rearm', token, {});
}
