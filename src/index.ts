// The library entry point: the client and the contract for services that drive coding sessions, plus the
// worker and the config loader for those that host them.
export * from './contract.js';
export { CodingClient, CodingClientError, type ClientOptions, type ListFilter, type SessionListing, type SessionSnapshot, type TaskLive } from './client/client.js';
export { watchSession, type SessionObserver } from './client/session-watch.js';
export { connectCoding, type Connected, type ConnectOptions } from './client/connect.js';
export { runTask, type RunReport, type RunRequest } from './client/run.js';
export { loadConfig, parseCodingConfig, CodingConfig, ConfigError } from './config.js';
export { createWorker, type CodingWorker } from './worker.js';
export { startTelemetry, type Telemetry } from './telemetry/setup.js';
