import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers log at WARN in tests: the suite's output stays readable, failures stay visible.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed for this process
}
