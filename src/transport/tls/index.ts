/** tls/: tcp channels inside mutually authenticated TLS (node:tls). */
export { connectTls, listenTls, readTlsFiles, TlsListener, type TlsCredentials } from './tls-transport.js';
