import { useState } from 'react';
import { ApiError, postKill, postRearm } from '../api';
import type { LinkInfo } from '../connection';
import { fmtNs, fmtUptime } from '../format';
import type { StateFields } from '../protocol';
import { setPastedToken } from '../token';
import { ConfirmDialog } from './KillDialog';

const LINK_TEXT: Record<string, string> = {
  connecting: 'CONNECTING',
  live: 'LIVE',
  stale: 'STALE',
  reconnecting: 'RECONNECTING',
  'needs-token': 'TOKEN NEEDED',
  incompatible: 'INCOMPATIBLE',
};

export function Header({
  s,
  link,
  token,
  onReconnect,
  onToken,
}: {
  s: StateFields | null;
  link: LinkInfo;
  token: string;
  onReconnect: () => void;
  onToken: () => void;
}) {
  const [dialog, setDialog] = useState<null | 'kill' | 'rearm'>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [paste, setPaste] = useState('');
  const [pasteError, setPasteError] = useState<string | null>(null);
  const engine = s?.engine;
  const killed = engine?.kill.set ?? false;
  const state = link.state === 'live' || link.state === 'stale' ? engine?.state ?? 'DETACHED' : 'UNKNOWN';
  const kl = engine?.kill_latency ?? null;

  const act = async (reason: string) => {
    setBusy(true);
    setError(null);
    try {
      if (dialog === 'kill') await postKill(token, reason);
      else await postRearm(token);
      setDialog(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <header className="top">
      <div className="brand">
        <span className="logo">◆</span>
        <span className="engine-name" data-testid="engine-name">{engine?.name ?? '—'}</span>
        <span className="uptime">up {fmtUptime(engine?.uptime_ns)}</span>
      </div>
      <div className={`engine-state st-${state.toLowerCase()}`} data-testid="engine-state" title={engine?.detail || undefined}>
        {state}
      </div>
      <div className="kill-info" data-testid="kill-info">
        {killed ? (
          <>
            <span className="bad">KILL SET</span> by {engine?.kill.by || '?'}: {engine?.kill.reason || '—'}
          </>
        ) : (
          <span className="muted">kill switch armed</span>
        )}
        <span className="kill-latency" data-testid="kill-latency">
          {kl
            ? kl.all_halted_after_ns !== null
              ? `press → all halted ${fmtNs(kl.all_halted_after_ns)}`
              : kl.timed_out
                ? `not halted: ${kl.waiting_for.join(', ')}`
                : `halting… ${kl.waiting_for.join(', ')}`
            : ''}
        </span>
      </div>
      <div className="actors-strip" data-testid="actor-chips">
        {(s?.actors ?? []).map((a) => (
          <span key={a.index} className={`chip state-${a.state.toLowerCase()}`} title={`${a.kind} · ${a.state} · restarts ${a.restarts}`}>
            <i className="dot" />
            {a.name}
            <b className={a.restarts > 0 ? 'warn' : ''}>{a.restarts}</b>
          </span>
        ))}
      </div>
      <div className={`link link-${link.state}`} data-testid="link-state" title={link.detail}>
        <i className="dot" />
        {LINK_TEXT[link.state]}
        {(link.state === 'reconnecting' || link.state === 'stale') && (
          <button className="btn small" onClick={onReconnect}>
            retry
          </button>
        )}
      </div>
      {link.state === 'needs-token' && (
        <form
          className="token-form"
          onSubmit={(e) => {
            e.preventDefault();
            const err = setPastedToken(paste);
            setPasteError(err);
            if (!err) {
              setPaste('');
              onToken();
            }
          }}
        >
          <input
            type="password"
            placeholder="paste token"
            value={paste}
            onChange={(e) => setPaste(e.target.value)}
            title={pasteError ?? 'the token the UI actor printed at start (also in its 0600 token file)'}
            data-testid="token-input"
          />
          <button className="btn small">use</button>
        </form>
      )}
      {killed ? (
        <button className="btn rearm" onClick={() => { setError(null); setDialog('rearm'); }} disabled={!token} data-testid="rearm-button">
          RE-ARM…
        </button>
      ) : (
        <button className="btn kill" onClick={() => { setError(null); setDialog('kill'); }} disabled={!token} data-testid="kill-button">
          KILL SWITCH
        </button>
      )}
      {dialog && (
        <ConfirmDialog
          word={dialog === 'kill' ? 'KILL' : 'REARM'}
          title={dialog === 'kill' ? 'Halt the whole engine?' : 'Re-arm the kill switch?'}
          body={
            dialog === 'kill'
              ? 'Every actor halts at once; Execution cancels every open order and sends nothing new. Only an explicit re-arm undoes it.'
              : 'Clears the latched kill flag. Actors resume only as the supervisor restarts them.'
          }
          action={dialog === 'kill' ? 'KILL ENGINE' : 'RE-ARM'}
          busy={busy}
          error={error}
          withReason={dialog === 'kill'}
          onConfirm={(r) => void act(r)}
          onCancel={() => setDialog(null)}
        />
      )}
    </header>
  );
}
