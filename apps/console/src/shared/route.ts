import { useSyncExternalStore } from 'react';

// Hash routes (#/keys, #/keys/key_…): the key-service serves one index.html, and a token never enters a URL.
const read = () => window.location.hash.replace(/^#\/?/, '');

export const useRoute = (): string[] =>
  useSyncExternalStore((l) => {
    window.addEventListener('hashchange', l);
    return () => window.removeEventListener('hashchange', l);
  }, read).split('/');

export const navigate = (path: string): void => {
  window.location.hash = `/${path}`;
};
