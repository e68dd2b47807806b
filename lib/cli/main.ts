#!/usr/bin/env node
// The `lrp` executable: runs the command line with the process's arguments and exits with its status.
import { runCli } from './run';

// A reader that stops early (`lrp info m.onnx | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

void runCli(process.argv.slice(2), {
  stdout: (text) => { process.stdout.write(text); },
  stderr: (text) => { process.stderr.write(text); },
  progressStream: process.stderr.isTTY ? process.stderr : undefined,
}).then((status) => {
  // Exit once both streams have flushed, so that piped output is complete and no stray handle keeps us alive.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
});
