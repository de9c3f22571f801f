// A stdio MCP client transport with a fully explicit environment. The SDK's own stdio transport
// merges in a default environment (HOME, PATH, USER...); Warden gives the process exactly the
// variables its configuration lists, starts it from an argv array with no shell, and kills the
// whole process when the session ends.

import { spawn, type ChildProcess } from 'node:child_process';
import { spawnSandboxed, type SandboxSpec } from '../sandbox/launcher.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export interface StdioSpawn {
  argv: readonly string[];
  env: Record<string, string>;
  cwd?: string;
  /** Receives the server's stderr, line by line, for the gateway's log. */
  onStderr?: (line: string) => void;
  /** Run it in a kernel sandbox (absent: bare, for `sandbox: none`). */
  sandbox?: Omit<SandboxSpec, 'argv' | 'env' | 'cwd'>;
}

export class ExplicitStdioTransport implements Transport {
  private child: ChildProcess | undefined;
  private readonly buffer = new ReadBuffer();
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  constructor(private readonly params: StdioSpawn) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<ChildProcess> {
    const p = this.params;
    if (p.sandbox) {
      const sp = await spawnSandboxed({
        ...p.sandbox,
        argv: p.argv,
        env: p.env,
        ...(p.cwd ? { cwd: p.cwd } : {}),
      });
      sp.child.once('close', () => void sp.cleanup());
      return sp.child;
    }
    const [command, ...args] = p.argv;
    // INVARIANT: shell is false and env is exactly the configured map.
    return spawn(command as string, args, {
      env: p.env,
      ...(p.cwd ? { cwd: p.cwd } : {}),
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
  }

  async start(): Promise<void> {
    if (this.child) throw new Error('transport already started');
    const child = await this.launch();
    return new Promise((resolve, reject) => {
      this.child = child;
      let started = false;
      child.once('error', (err) => {
        if (!started) reject(err);
        else this.onerror?.(err);
      });
      child.once('spawn', () => {
        started = true;
        resolve();
      });
      child.once('close', () => {
        this.child = undefined;
        this.onclose?.();
      });
      child.stdout?.on('data', (chunk: Buffer) => {
        this.buffer.append(chunk);
        for (;;) {
          let message: JSONRPCMessage | null;
          try {
            message = this.buffer.readMessage();
          } catch (err) {
            this.onerror?.(err as Error);
            continue;
          }
          if (message === null) break;
          this.onmessage?.(message);
        }
      });
      let pending = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) this.params.onStderr?.(line);
        if (pending.length > 8192) pending = pending.slice(-8192);
      });
      child.stdin?.on('error', (err) => this.onerror?.(err));
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin) return Promise.reject(new Error('upstream process is not running'));
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.stdin?.end();
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const term = setTimeout(() => child.kill('SIGTERM'), 500);
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}
