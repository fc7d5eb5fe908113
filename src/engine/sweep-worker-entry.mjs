// Worker threads do not inherit the TypeScript loader of the main thread (Node 20), so when the
// engine runs from source the sweep worker registers tsx itself before loading its module.
import { register } from 'tsx/esm/api';

register();
await import('./sweep-worker.ts');
