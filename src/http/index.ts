export { buildApp, type BuildAppOptions } from './app.js';
export type { DetectorHost } from './detector-host.js';
export { startServer, type RunningServer, type StartServerOptions } from './server.js';
