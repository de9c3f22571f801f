// The entry point of the evidence log's writer thread (see writer.ts and sink.ts). Requests that
// arrive while a commit is under way are taken together into the next one.

import { parentPort, workerData } from 'node:worker_threads';
import { pendingBytes, type PendingText } from './append.js';
import { WitnessSubmitter } from './witness-client.js';
import {
  LogWriter,
  openLogConnection,
  type WorkerReply,
  type WorkerRequest,
  type WriterOptions,
} from './writer.js';

const port = parentPort;
if (!port) throw new Error('writer-thread.ts runs only as a worker thread');

const options = workerData as WriterOptions;
const log = (m: string): void => console.error(m);
let witnesses: WitnessSubmitter | undefined;
const writer = new LogWriter(openLogConnection(options.file), options.checkpoints, log, (storage) => {
  if (!options.witnesses?.length) return;
  witnesses ??= new WitnessSubmitter(storage, options.witnesses, log);
  void witnesses.submit();
});
const timer = options.checkpoints
  ? setInterval(() => writer.tick(Date.now()), Math.max(100, Math.min(options.checkpoints.intervalMs, 1000)))
  : undefined;

let queue: Array<{ batch: number; entries: PendingText[] }> = [];
let scheduled = false;

function reply(message: WorkerReply): void {
  port?.postMessage(message);
}

function flush(): void {
  scheduled = false;
  const requests = queue;
  queue = [];
  try {
    const { first } = writer.append(requests.flatMap((r) => r.entries.map(pendingBytes)));
    let next = first;
    for (const r of requests) {
      reply({ kind: 'appended', batch: r.batch, first: next, size: next + r.entries.length });
      next += r.entries.length;
    }
  } catch (err) {
    for (const r of requests) reply({ kind: 'failed', batch: r.batch, message: (err as Error).message });
  }
  writer.maintain();
}

port.on('message', (request: WorkerRequest) => {
  if (request.kind === 'append') {
    queue.push({ batch: request.batch, entries: request.entries });
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    return;
  }
  if (scheduled) flush();
  if (timer) clearInterval(timer);
  writer.checkpoint(Date.now());
  // Give the witnesses a moment with the final checkpoint; they get the next one otherwise.
  const pending = witnesses?.submit() ?? Promise.resolve();
  void Promise.race([pending, new Promise((r) => setTimeout(r, 2000))]).finally(() => {
    writer.close();
    reply({ kind: 'closed' });
  });
});
