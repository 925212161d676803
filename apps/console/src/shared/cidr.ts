import ipaddr from 'ipaddr.js';

// While typing: each line must be an address or a CIDR range (the key-service has the final word, e.g. on host
// bits set, and its message is shown when it refuses).
export const cidrProblems = (text: string): string | null => {
  const bad = lines(text).filter((l) => {
    try {
      if (l.includes('/')) ipaddr.parseCIDR(l);
      else ipaddr.parse(l);
      return false;
    } catch {
      return true;
    }
  });
  return bad.length ? `Not a CIDR range: ${bad.join(', ')}` : null;
};

export const lines = (text: string): string[] =>
  text
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter(Boolean);
