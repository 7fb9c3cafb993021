export { createMemoryPair } from './memory-channel.js';
