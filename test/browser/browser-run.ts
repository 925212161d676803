// Shared by the browser tier's global setup, teardown and test files (no jest module mapper in global setups).
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// The browser tier's stack has its own descriptor, so an e2e tier in the same jest run keeps its own stack.
export const browserRun = (): string => (process.env.KEYGATE_BROWSER_RUN ??= `browser-${process.pid}`);

export const withBrowserRun = async <T>(fn: () => T | Promise<T>): Promise<T> => {
  const e2eRun = process.env.KEYGATE_E2E_RUN;
  process.env.KEYGATE_E2E_RUN = browserRun();
  try {
    return await fn();
  } finally {
    if (e2eRun === undefined) delete process.env.KEYGATE_E2E_RUN;
    else process.env.KEYGATE_E2E_RUN = e2eRun;
  }
};
