export { createShareServer, type ShareServerOptions } from "./share-server.js";
export type { Credentials } from "./basic-auth.js";
