import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Docker from 'dockerode';
import { LineSplitter, Tail } from '../process/lines.js';

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
}

async function openLog(file: string): Promise<WriteStream> {
  const s = createWriteStream(file);
  await once(s, 'open');
  return s;
}

export async function captureLogs(docker: Docker, container: Docker.Container, workspace: string): Promise<CapturedLogs> {
  const files = { stdout: path.join(workspace, 'stdout.log'), stderr: path.join(workspace, 'stderr.log') };
  const [outFile, errFile] = await Promise.all([openLog(files.stdout), openLog(files.stderr)]);
  const tail = new Tail(LOG_TAIL_LINES);
  let last: string | null = null;
  const onLine = (line: string) => {
    tail.push(line);
    if (line.trim() !== '') last = line;
  };
  const out = new PassThrough();
  const err = new PassThrough();
  const outLines = new LineSplitter(onLine);
  const errLines = new LineSplitter(onLine);
  out.on('data', (c: Buffer) => outLines.push(c));
  err.on('data', (c: Buffer) => errLines.push(c));
  out.pipe(outFile);
  err.pipe(errFile);
  // Not awaited: podman sends the response headers only with the first output, so a silent
  // container would block the caller here; the request is aborted by close().
  const abort = new AbortController();
  const ended = container
    .logs({ follow: true, stdout: true, stderr: true, abortSignal: abort.signal } as Parameters<Docker.Container['logs']>[0] & { follow: true })
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
  };
}
