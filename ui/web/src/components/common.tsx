import type { ReactNode } from 'react';

export function Panel({
  title,
  badge,
  children,
  className,
  testId,
}: {
  title: string;
  badge?: ReactNode;
  children: ReactNode;
  className?: string;
  testId?: string;
}) {
  return (
    <section className={`panel ${className ?? ''}`} data-testid={testId}>
      <div className="panel-head">
        <h2>{title}</h2>
        <div className="panel-badges">{badge}</div>
      </div>
      <div className="panel-body">{children}</div>
    </section>
  );
}

/** Label over a value; `w` fixes the value width in characters so updates never shift layout. */
export function Stat({
  label,
  value,
  tone,
  w = 10,
  testId,
  title,
}: {
  label: string;
  value: string;
  tone?: 'good' | 'bad' | 'warn' | 'muted';
  w?: number;
  testId?: string;
  title?: string;
}) {
  return (
    <div className="stat" title={title}>
      <div className="stat-label">{label}</div>
      <div className={`stat-value ${tone ?? ''}`} style={{ minWidth: `${w}ch` }} data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

export function Badge({ tone, children, testId }: { tone: string; children: ReactNode; testId?: string }) {
  return (
    <span className={`badge ${tone}`} data-testid={testId}>
      {children}
    </span>
  );
}

export function NoData({ what }: { what: string }) {
  return <div className="nodata">no {what} telemetry yet</div>;
}
