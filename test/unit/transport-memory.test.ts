import { createMemoryPair } from '../../src/transport/index.js';
import { runChannelCompliance } from '../transport/compliance.js';

runChannelCompliance('memory', async (optionsA, optionsB) => {
  const [a, b] = createMemoryPair(optionsA, optionsB ?? optionsA);
  return {
    a,
    b,
    teardown: async () => {
      a.destroy();
      b.destroy();
    },
  };
});
