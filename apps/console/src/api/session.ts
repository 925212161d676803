import { useSyncExternalStore } from 'react';

// The admin token lives in sessionStorage only: gone with the tab, never in a URL, cleared on sign-out or a 401.
const KEY = 'keygate.console.token';
const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());

export const currentToken = (): string | null => sessionStorage.getItem(KEY);

export const signIn = (token: string): void => {
  sessionStorage.setItem(KEY, token.trim());
  notify();
};

export const signOut = (): void => {
  sessionStorage.removeItem(KEY);
  notify();
};

export const useToken = (): string | null =>
  useSyncExternalStore((l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  }, currentToken);
