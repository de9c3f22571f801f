// A worker thread that answers requests, for work taken off the event loop: Cedar's evaluations
// (policy/thread.ts) and DPoP signature checks (identity/verify-thread.ts). The gateway's event
// loop is what limits its throughput, so CPU-bound steps of a request run here while it serves
// others.
//
// Requests made in the same turn of the event loop travel in one message, and their answers come
// back in one: posting a message costs tens of µs of the event loop whatever it holds.
//
// INVARIANT: every request is answered or rejected. A thread that dies rejects what it had in
// flight, and a new one is started for the next request.

import { parentPort, Worker } from 'node:worker_threads';

type Answer<R> = { id: number; ok: true; value: R } | { id: number; ok: false; error: string };

interface Waiter<R> {
  resolve: (value: R) => void;
  reject: (err: Error) => void;
}

/**
 * The module a worker runs: built, it is beside the caller's module. Run from the TypeScript sources
 * (the tests, under tsx, which does not reach worker threads), it is the build of the same sources.
 */
export function threadModule(callerUrl: string, builtPath: string, sibling: string): URL {
  return callerUrl.endsWith('.ts') ? new URL(builtPath, callerUrl) : new URL(sibling, callerUrl);
}

export class RequestThread<Q, R> {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiter<R>>();
  private queue: Array<{ id: number; request: Q }> = [];
  private next = 1;
  private closed = false;

  /**
   * @param url the worker's module, which calls `serveRequests`
   * @param name says what failed, in errors
   */
  constructor(
    private readonly url: URL,
    private readonly name: string,
  ) {}

  /**
   * Start the worker now rather than on the first request: loading its modules (Cedar's is 4 MB of
   * WebAssembly) takes long enough to hold up the request that would otherwise wait for it.
   */
  warm(): void {
    if (!this.closed && !this.worker) this.start();
  }

  request(request: Q): Promise<R> {
    if (this.closed) return Promise.reject(new Error(`the ${this.name} thread is closed`));
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.queue.push({ id, request });
      if (this.queue.length === 1) setImmediate(() => this.flush(worker));
    });
  }

  /**
   * Whether the next request starts a new worker, which knows nothing of its predecessor's state
   * (the policy sets it had preparsed).
   */
  get fresh(): boolean {
    return this.worker === undefined;
  }

  private flush(worker: Worker): void {
    // The thread died in between: what was queued for it has been rejected already, and what is
    // queued now is for its successor, which has a flush of its own scheduled.
    if (this.worker !== worker) return;
    const batch = this.queue;
    this.queue = [];
    worker.postMessage(batch);
  }

  private start(): Worker {
    const worker = new Worker(this.url);
    // The thread does not keep the process alive; pending requests are the caller's to settle.
    worker.unref();
    worker.on('message', (answers: Array<Answer<R>>) => {
      for (const a of answers) {
        const w = this.waiting.get(a.id);
        if (!w) continue;
        this.waiting.delete(a.id);
        if (a.ok) w.resolve(a.value);
        else w.reject(new Error(a.error));
      }
    });
    const fail = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.queue = [];
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the ${this.name} thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker) await worker.terminate();
  }
}

/** In a worker: answer each request with `handle`; a request it throws on is rejected with the message. */
export function serveRequests<Q, R>(handle: (request: Q) => R): void {
  const port = parentPort;
  if (!port) throw new Error('serveRequests runs only in a worker thread');
  port.on('message', (batch: Array<{ id: number; request: Q }>) => {
    const answers = batch.map(({ id, request }): Answer<R> => {
      try {
        return { id, ok: true, value: handle(request) };
      } catch (err) {
        return { id, ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    });
    port.postMessage(answers);
  });
}
