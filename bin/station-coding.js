#!/usr/bin/env node
// Entry point of the `station-coding` command (compiled sources in dist/, built by `npm install`).
import { main, reportError } from '../dist/src/client/cli.js';

const argv = process.argv.slice(2);
main(argv).then(
  (code) => process.exit(code),
  (err) => process.exit(reportError(err, argv.includes('--verbose'))),
);
