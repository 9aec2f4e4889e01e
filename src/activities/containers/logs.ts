import { createWriteStream, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Docker from 'dockerode';
import { LineSplitter, Tail } from '../step/lines.js';

// A container's output into the step's workspace (stdout.log, stderr.log, as runCommand's), with
// bounded tails for heartbeats and failures. Followed from just after start: the logs endpoint
// replays what was printed before and ends when the container stops.

export const LOG_TAIL_LINES = 50;

export interface CapturedLogs {
  /** Resolves when the runtime ended the stream (container stopped) and files are flushed. */
  done: Promise<void>;
  tail(): string[];
  lastLine(): string | null;
  files: { stdout: string; stderr: string };
  /** Stops following (the container is being removed). */
  close(): void;
  /**
   * After the container exited: waits for the followed stream, then reads the complete log once
   * more and keeps that when the stream got less (dockerd can end a follow of a container that is
   * just exiting without its last output).
   */
  finalize(container: Docker.Container): Promise<void>;
}

/** Splits the Engine API's multiplexed log format (8-byte frame headers) into stdout and stderr. */
export function demuxFrames(buf: Buffer): { stdout: Buffer; stderr: Buffer } | undefined {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (let off = 0; off < buf.length;) {
    if (off + 8 > buf.length || buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0) return undefined;
    const size = buf.readUInt32BE(off + 4);
    const chunk = buf.subarray(off + 8, off + 8 + size);
    if (buf[off] === 2) err.push(chunk);
    else out.push(chunk);
    off += 8 + size;
  }
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}

async function openLog(file: string): Promise<WriteStream> {
  const s = createWriteStream(file);
  await once(s, 'open');
  return s;
}

export async function captureLogs(docker: Docker, container: Docker.Container, workspace: string): Promise<CapturedLogs> {
  const files = { stdout: path.join(workspace, 'stdout.log'), stderr: path.join(workspace, 'stderr.log') };
  const [outFile, errFile] = await Promise.all([openLog(files.stdout), openLog(files.stderr)]);
  let tail = new Tail(LOG_TAIL_LINES);
  let last: string | null = null;
  let captured = 0;
  const onLine = (line: string) => {
    tail.push(line);
    if (line.trim() !== '') last = line;
  };
  const out = new PassThrough();
  const err = new PassThrough();
  const outLines = new LineSplitter(onLine);
  const errLines = new LineSplitter(onLine);
  out.on('data', (c: Buffer) => {
    captured += c.length;
    outLines.push(c);
  });
  err.on('data', (c: Buffer) => {
    captured += c.length;
    errLines.push(c);
  });
  out.pipe(outFile);
  err.pipe(errFile);
  // Not awaited: podman sends the response headers only with the first output, so a silent
  // container would block the caller here; the request is aborted by close().
  const abort = new AbortController();
  const ended = container
    .logs({ follow: true, stdout: true, stderr: true, abortSignal: abort.signal } as Parameters<Docker.Container['logs']>[0] & {
      follow: true;
    })
    .then(
      (stream) =>
        new Promise<void>((resolve) => {
          docker.modem.demuxStream(stream, out, err);
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', () => resolve());
          abort.signal.addEventListener('abort', () => resolve(), { once: true });
        }),
      () => undefined,
    );
  const done = ended.then(async () => {
    outLines.end();
    errLines.end();
    out.end();
    err.end();
    await Promise.all([finished(outFile).catch(() => undefined), finished(errFile).catch(() => undefined)]);
  });
  return {
    done,
    tail: () => tail.toArray(),
    lastLine: () => last,
    files,
    close: () => abort.abort(),
    async finalize(c) {
      await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
      abort.abort();
      await done;
      let full: ReturnType<typeof demuxFrames>;
      try {
        full = demuxFrames((await c.logs({ follow: false, stdout: true, stderr: true })) as unknown as Buffer);
      } catch {
        return;
      }
      if (!full || full.stdout.length + full.stderr.length <= captured) return;
      await Promise.all([writeFile(files.stdout, full.stdout), writeFile(files.stderr, full.stderr)]);
      // Rebuilt from the complete log (stdout then stderr: the interleaving is lost, the lines are not).
      tail = new Tail(LOG_TAIL_LINES);
      for (const part of [full.stdout, full.stderr]) {
        const lines = new LineSplitter(onLine);
        lines.push(part);
        lines.end();
      }
    },
  };
}
