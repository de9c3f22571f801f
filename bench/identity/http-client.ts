// The load generator of the identity benchmark's HTTP figure, run as a separate process so that
// its CPU is not charged to the service's event loop. A lean keep-alive `node:http` client: no
// fetch, no JSON parsing of replies, a fixed number of requests in flight. It receives pre-signed
// request bodies and DPoP proofs from run.ts over IPC, sends them all, and reports the elapsed time.

import { Agent, request } from 'node:http';

export interface ClientJob {
  url: string;
  /** Form-encoded token request bodies, one per request. */
  bodies: string[];
  /** The matching DPoP proofs. */
  proofs: string[];
  inFlight: number;
}

export interface ClientResult {
  /** Nanoseconds from the first request sent to the last reply read, as a decimal string. */
  elapsedNs: string;
  ok: number;
  failed: number;
  /** Status and body of the first failure, to make a broken run loud. */
  firstFailure: string | null;
}

function isJob(m: unknown): m is ClientJob {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  return (
    typeof o['url'] === 'string' &&
    Array.isArray(o['bodies']) &&
    Array.isArray(o['proofs']) &&
    typeof o['inFlight'] === 'number'
  );
}

// One agent for the life of the process: connections opened by the warm-up stay open.
let agent: Agent | undefined;

function post(url: URL, body: string, proof: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          dpop: proof,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(job: ClientJob): Promise<ClientResult> {
  agent ??= new Agent({ keepAlive: true, maxSockets: job.inFlight });
  const url = new URL(job.url);
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstFailure: string | null = null;
  const lane = async (): Promise<void> => {
    while (next < job.bodies.length) {
      const i = next++;
      const r = await post(url, job.bodies[i] ?? '', job.proofs[i] ?? '');
      if (r.status === 200) ok++;
      else {
        failed++;
        firstFailure ??= `${r.status} ${r.text}`;
      }
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: job.inFlight }, lane));
  const elapsed = process.hrtime.bigint() - t0;
  return { elapsedNs: elapsed.toString(), ok, failed, firstFailure };
}

process.on('message', (m: unknown) => {
  if (!isJob(m)) return;
  run(m).then(
    (r) => process.send?.(r),
    (err: unknown) =>
      process.send?.({
        elapsedNs: '0',
        ok: 0,
        failed: m.bodies.length,
        firstFailure: String(err),
      } satisfies ClientResult),
  );
});

process.on('disconnect', () => {
  agent?.destroy();
});
