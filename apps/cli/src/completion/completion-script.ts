import type { Command } from 'commander';

// Shell completion generated from the command tree itself, so it never drifts from the commands: for each command
// path ("", "keys", "keys create"…) the words that may follow — subcommands, then its options and the global ones.
// Static scripts: pressing TAB runs no node process.

interface Word {
  word: string;
  description: string;
}

const optionWords = (cmd: Command): Word[] =>
  cmd.options
    .filter((o) => !o.hidden && o.long)
    .map((o) => ({ word: o.long as string, description: o.description ?? '' }));

export const completionTable = (program: Command): Map<string, Word[]> => {
  const global = [...optionWords(program), { word: '--help', description: 'show help' }];
  const table = new Map<string, Word[]>();
  const visit = (cmd: Command, path: string): void => {
    const subs = cmd.commands.map((c) => ({ word: c.name(), description: c.description() }));
    const own = cmd === program ? [] : optionWords(cmd);
    table.set(path, [...subs, ...own, ...global]);
    for (const c of cmd.commands) visit(c, path ? `${path} ${c.name()}` : c.name());
  };
  visit(program, '');
  return table;
};

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

const caseFunction = (table: Map<string, Word[]>, entry: (w: Word) => string): string =>
  [
    '_keygate_words() {',
    '  case "$1" in',
    ...[...table].map(
      ([path, words]) => `    ${sq(path)}) printf '%s\\n' ${words.map((w) => sq(entry(w))).join(' ')} ;;`,
    ),
    '  esac',
    '}',
  ].join('\n');

// The current command path: the words so far that name a (sub)command; option values and arguments are skipped.
const walk = (first: string, last: string, word: string): string => `  local cmdpath='' w i next
  for ((i = ${first}; i < ${last}; i++)); do
    w=${word}
    [[ $w == -* ]] && continue
    next=\${cmdpath:+$cmdpath }$w
    [[ -n $(_keygate_words "$next") ]] && cmdpath=$next
  done`;

export const bashCompletion = (
  program: Command,
): string => `# bash completion for keygate: source <(keygate completion bash)
# or: keygate completion bash > ~/.local/share/bash-completion/completions/keygate
${caseFunction(completionTable(program), (w) => w.word)}
_keygate() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
${walk('1', 'COMP_CWORD', '${COMP_WORDS[i]}')}
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$(_keygate_words "$cmdpath")" -- "$cur"))
}
complete -o default -F _keygate keygate
`;

export const zshCompletion = (program: Command): string => `#compdef keygate
# zsh completion for keygate: source <(keygate completion zsh) after compinit,
# or: keygate completion zsh > "\${fpath[1]}/_keygate"
${caseFunction(completionTable(program), (w) => `${w.word.replace(/:/g, '\\:')}:${w.description.replace(/\n/g, ' ')}`)}
_keygate() {
${walk('2', 'CURRENT', '${words[i]}')}
  local -a entries subs opts
  entries=("\${(@f)$(_keygate_words "$cmdpath")}")
  opts=(\${(M)entries:#-*})
  subs=(\${entries:#-*})
  if [[ $PREFIX == -* ]]; then
    _describe -t options 'option' opts
  elif (( \${#subs} )); then
    _describe -t commands 'keygate command' subs
  else
    _files
  fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _keygate "$@"; else compdef _keygate keygate; fi
`;
