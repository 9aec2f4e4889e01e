// The step spawner: a small long-lived process that starts step process groups for the worker.
//
// Why a second process: starting a program forks the process that starts it, and fork() time
// grows with that process's memory. A worker with a few hundred MiB spent ~8 ms of its only
// event-loop thread per spawn (a 4,000-replicate sweep spent half its time there); this process
// stays at a few tens of MiB, so a spawn costs it ~1 ms, on the other core.
//
// Plain JavaScript with Node built-ins only, started with `node` itself: no TypeScript loader
// in its memory. Protocol (IPC channel, JSON):
//   worker → { op: 'spawn', id, file, args, cwd, env }
//   helper → { op: 'pipe', id, fd } three times (fd 1, 2, 3), each carrying that pipe's socket
//            as the message's handle: the worker then holds the only copies (this process
//            closes its own once the worker acknowledged each handle), so the lifeline on fd 3
//            still ends exactly when the worker dies;
//            { op: 'spawned', id, pid } after the three pipes, or { op: 'failed', id, message };
//            { op: 'exit', id, exitCode, signal } when the program exits.
// It exits when the worker disconnects (the worker's death included); the programs it started
// carry PDEATHSIG and their watchdogs hold the worker's lifeline, so none outlives both.
import { spawn } from 'node:child_process';

const send = (message, handle) => new Promise((resolve, reject) => process.send(message, handle, (err) => (err ? reject(err) : resolve())));

async function start({ id, file, args, cwd, env }) {
  let child;
  try {
    child = spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  } catch (err) {
    await send({ op: 'failed', id, message: err.message });
    return;
  }
  if (child.pid === undefined) {
    // The error event follows on the next tick with the reason (ENOENT, EAGAIN, ...).
    child.once('error', (err) => void send({ op: 'failed', id, message: err.message }).catch(() => undefined));
    return;
  }
  // Node starts reading a child's pipes as it creates them; what it read here would be lost to
  // the worker. Stopped in this same tick, before the event loop polls them even once.
  for (const fd of [1, 2, 3]) child.stdio[fd]._handle.readStop();
  const exited = new Promise((resolve) => child.once('exit', (exitCode, signal) => resolve({ exitCode, signal })));
  for (const fd of [1, 2, 3]) await send({ op: 'pipe', id, fd }, child.stdio[fd]);
  await send({ op: 'spawned', id, pid: child.pid });
  const { exitCode, signal } = await exited;
  await send({ op: 'exit', id, exitCode, signal });
}

process.on('message', (message) => {
  if (message?.op === 'spawn') {
    start(message).catch((err) => {
      // The channel is gone (worker dead): nothing left to report to.
      process.stderr.write(`shepherd step spawner: ${err.message}\n`);
    });
  }
});
process.on('disconnect', () => process.exit(0));
