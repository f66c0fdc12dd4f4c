// The confirmation for kill and re-arm: the operator must type the word (KILL / REARM); the
// button stays disabled until the text matches exactly, Enter alone never confirms an empty
// field, and Escape or Cancel closes without acting.

import { useEffect, useRef, useState } from 'react';

export function ConfirmDialog({
  word,
  title,
  body,
  action,
  busy,
  error,
  withReason,
  onConfirm,
  onCancel,
}: {
  word: string;
  title: string;
  body: string;
  action: string;
  busy: boolean;
  error: string | null;
  withReason: boolean;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}) {
  const [typed, setTyped] = useState('');
  const [reason, setReason] = useState('operator kill from cockpit');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onCancel]);
  const armed = typed === word && !busy;
  return (
    <div className="modal-backdrop" role="presentation">
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title" data-testid="confirm-dialog">
        <h3 id="confirm-title">{title}</h3>
        <p>{body}</p>
        {withReason && (
          <label className="field">
            <span>reason (recorded in the control block)</span>
            <input value={reason} maxLength={40} onChange={(e) => setReason(e.target.value)} data-testid="kill-reason" />
          </label>
        )}
        <label className="field">
          <span>
            type <b className="confirm-word">{word}</b> to confirm
          </span>
          <input
            ref={input}
            value={typed}
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setTyped(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && armed) onConfirm(reason);
            }}
            data-testid="confirm-input"
          />
        </label>
        {error && <div className="error">{error}</div>}
        <div className="modal-actions">
          <button className="btn" onClick={onCancel} data-testid="confirm-cancel">
            Cancel
          </button>
          <button
            className="btn danger"
            disabled={!armed}
            onClick={() => onConfirm(reason)}
            data-testid="confirm-go"
          >
            {busy ? 'sending…' : action}
          </button>
        </div>
      </div>
    </div>
  );
}
