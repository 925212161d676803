export const when = (iso: string | null | undefined, never = '—'): string =>
  iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') : never;

export const usd = (decimal: string | null | undefined): string =>
  decimal === null || decimal === undefined ? '—' : `$${Number(decimal).toFixed(4)}`;

const STATE_COLORS: Record<string, string> = {
  active: 'green',
  suspended: 'yellow',
  revoked: 'red',
  expired: 'gray',
};
export const stateColor = (state: string): string => STATE_COLORS[state] ?? 'gray';

// Saves text as a file the browser downloads; the object URL is released at once.
export const download = (fileName: string, text: string, type: string): void => {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
};
