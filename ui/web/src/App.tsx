import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { Connection } from './connection';
import { ExecutionPanel } from './components/ExecutionPanel';
import { Header } from './components/Header';
import { LatencyPanel } from './components/LatencyPanel';
import { OraclePanel } from './components/OraclePanel';
import { SentinelPanel } from './components/SentinelPanel';
import { SonarPanel } from './components/SonarPanel';
import { FrameStore } from './store';
import { getToken, refetchInjectedToken, setInjectedToken } from './token';

/** Store + connection with a tiny subscription so React re-renders once per accepted frame. */
function useCockpit() {
  const [store] = useState(() => new FrameStore());
  const listeners = useMemo(() => new Set<() => void>(), []);
  const [token, setToken] = useState(getToken);
  const [conn] = useState(
    () =>
      new Connection(
        store,
        getToken,
        () => listeners.forEach((l) => l()),
        undefined,
        async () => {
          const fresh = await refetchInjectedToken();
          if (fresh) {
            setInjectedToken(fresh);
            setToken(fresh);
          }
          return fresh;
        },
      ),
  );
  useEffect(() => {
    conn.start();
    return () => conn.stop();
  }, [conn]);
  const subscribe = (l: () => void) => {
    listeners.add(l);
    return () => listeners.delete(l);
  };
  const tick = useSyncExternalStore(subscribe, () => `${store.revision}:${conn.info.state}:${conn.info.detail}`);
  return {
    store,
    conn,
    tick,
    token,
    refreshToken: () => {
      setToken(getToken());
      conn.reconnectNow();
    },
  };
}

export function App() {
  const { store, conn, token, refreshToken } = useCockpit();
  const s = store.latest;
  const rev = store.revision;
  return (
    <div className="app">
      <Header s={s} link={conn.info} token={token} onReconnect={() => conn.reconnectNow()} onToken={refreshToken} />
      {conn.info.state === 'incompatible' && <div className="banner bad">{conn.info.detail}</div>}
      {s?.engine.detail && <div className="banner warn">{s.engine.detail}</div>}
      <main className="grid">
        <SentinelPanel store={store} s={s} revision={rev} />
        <OraclePanel store={store} s={s} revision={rev} />
        <ExecutionPanel store={store} s={s} revision={rev} />
        <SonarPanel store={store} s={s} revision={rev} />
        <LatencyPanel s={s} revision={rev} />
      </main>
      <footer className="foot">
        <span>seq {s?.seq ?? '—'}</span>
        <span>missed frames {store.missedFrames}</span>
        <span>snapshots {store.snapshots}</span>
        <span>protocol v1</span>
      </footer>
    </div>
  );
}
