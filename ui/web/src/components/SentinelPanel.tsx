import { RttChart } from '../charts/RttChart';
import { fmtAgeMs, fmtCount, fmtNs, fmtPct } from '../format';
import type { StateFields } from '../protocol';
import type { FrameStore } from '../store';
import { Badge, Panel, Stat } from './common';

export function SentinelPanel({ store, s, revision }: { store: FrameStore; s: StateFields | null; revision: number }) {
  const sen = s?.sentinel ?? null;
  const lock = sen?.lockdown ?? false;
  const overP99 = sen ? sen.rtt_p99_ns >= sen.rtt_threshold_ns : false;
  return (
    <Panel
      title="Sentinel"
      className="sentinel"
      testId="panel-sentinel"
      badge={
        <>
          <Badge tone={lock ? 'bad' : sen ? 'good' : 'muted'} testId="lockdown-state">
            {sen ? (lock ? `LOCKDOWN: ${sen.lockdown_reason || '?'}` : 'NO LOCKDOWN') : 'NO DATA'}
          </Badge>
          <Badge tone={sen?.emergency ? 'bad' : 'muted'} testId="emergency-state">
            {sen?.emergency ? `EMERGENCY: ${sen.emergency}` : `emergencies ${fmtCount(sen?.emergencies ?? 0)}`}
          </Badge>
        </>
      }
    >
      <div className="chart-title">
        Order round trip <span className="legend rtt">RTT</span> <span className="legend p99">p99</span>{' '}
        <span className="legend limit">lockdown threshold</span>
      </div>
      <div className="chart-box rtt-box">
        <RttChart store={store} revision={revision} />
      </div>
      <div className="stats-row">
        <Stat label="RTT last" value={fmtNs(sen?.rtt_last_ns)} testId="rtt-last" />
        <Stat label="RTT p50" value={fmtNs(sen?.rtt_p50_ns)} />
        <Stat label="RTT p99" value={fmtNs(sen?.rtt_p99_ns)} tone={overP99 ? 'bad' : undefined} />
        <Stat label="threshold" value={fmtNs(sen?.rtt_threshold_ns)} tone="muted" />
        <Stat label="acks out" value={fmtCount(sen?.outstanding_acks)} w={6} />
        <Stat label="lockdowns" value={fmtCount(sen?.lockdowns)} w={6} />
      </div>
      <div className="subhead">CPU per core</div>
      <div className="cores" data-testid="cores">
        {(s?.cores ?? []).map((c) => (
          <div className="core" key={c.core}>
            <span className="core-name">cpu{c.core}</span>
            <span className="bar">
              <span className="fill" style={{ width: `${Math.min(100, Math.max(0, c.busy_pct))}%` }} />
            </span>
            <span className="num w6">{fmtPct(c.busy_pct, { digits: 0 })}</span>
          </div>
        ))}
      </div>
      <div className="subhead">Actors</div>
      <div className="table-wrap">
        <table className="grid-table" data-testid="actor-table">
          <thead>
            <tr>
              <th className="l">actor</th>
              <th>pid</th>
              <th title="configured core">core</th>
              <th title="core it last ran on (/proc/PID/stat)">last</th>
              <th title="CPU time over the last sample, % of one core">cpu</th>
              <th title="voluntary context switches">vcsw</th>
              <th title="nonvoluntary context switches (preemptions)">nvcsw</th>
              <th className="l">state</th>
              <th title="restarts">rst</th>
              <th title="processing latency p99 (published by the actor)">p99</th>
              <th title="heartbeat age">hb</th>
            </tr>
          </thead>
          <tbody>
            {(s?.actors ?? []).map((a) => {
              const moved = a.core >= 0 && a.last_cpu >= 0 && a.core !== a.last_cpu;
              return (
                <tr key={a.index}>
                  <td className="l name">{a.name}</td>
                  <td>{a.pid > 0 ? a.pid : '—'}</td>
                  <td>{a.core >= 0 ? a.core : '—'}</td>
                  <td className={moved ? 'bad' : ''} title={moved ? 'not on its configured core' : ''}>
                    {a.last_cpu >= 0 ? a.last_cpu : '—'}
                  </td>
                  <td>{fmtPct(a.cpu_pct, { digits: 0 })}</td>
                  <td>{fmtCount(a.ctx_voluntary)}</td>
                  <td className={a.ctx_nonvoluntary > 0 ? 'warn' : ''}>{fmtCount(a.ctx_nonvoluntary)}</td>
                  <td className={`l state-${a.state.toLowerCase()}`}>{a.state}</td>
                  <td className={a.restarts > 0 ? 'warn' : ''}>{a.restarts}</td>
                  <td>{fmtNs(a.latency_p99_ns || null)}</td>
                  <td className={a.heartbeat_age_ms > 500 ? 'bad' : ''}>{fmtAgeMs(a.heartbeat_age_ms)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}
