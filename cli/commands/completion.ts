// skiff completion bash|zsh: a script for the shell that completes skiff's verbs, flags, kinds
// and the names of live objects. The scripts only hand the typed words to `skiff __complete`
// (cli/complete.ts), so they never go stale as commands and kinds change.
import { UsageError, type Command } from '../command.ts';

/** The line of `skiff __complete` that asks the shell to complete paths itself. */
export const FILES_DIRECTIVE = ':files';

const BASH = `# skiff completion for bash: source <(skiff completion bash)
_skiff() {
  local cur=\${COMP_WORDS[COMP_CWORD]} out IFS=$'\\n'
  out=$("\${COMP_WORDS[0]}" __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  if [[ $out == '${FILES_DIRECTIVE}' ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($out)
  fi
}
complete -F _skiff skiff
`;

const ZSH = `#compdef skiff
# skiff completion for zsh: source <(skiff completion zsh)
_skiff() {
  local out
  out=$("\${words[1]}" __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)
  if [[ $out == '${FILES_DIRECTIVE}' ]]; then
    _files
  elif [[ -n $out ]]; then
    local -a candidates
    candidates=("\${(@f)out}")
    compadd -- "\${candidates[@]}"
  fi
}
if (( $+functions[compdef] )); then compdef _skiff skiff; fi
`;

const SCRIPTS: Record<string, string> = { bash: BASH, zsh: ZSH };

export const completionCommand: Command = {
  name: 'completion',
  help: `Print a script that makes bash or zsh complete skiff's commands, flags, kinds and short
names, and the names of the objects in the cluster (pods, nodes, deployments...), as Tab is pressed.

Usage:
  skiff completion bash|zsh

Load it into the current shell:
  source <(skiff completion bash)
or for every new shell:
  skiff completion bash > ~/.local/share/bash-completion/completions/skiff
  skiff completion zsh > "\${fpath[1]}/_skiff"

Names are asked of the cluster at each Tab, and left out if it does not answer within a second.

Options:
  -h, --help   Show this help.`,
  options: {},
  async run(_values, positionals, ctx) {
    const [shell, ...rest] = positionals;
    if (!shell) throw new UsageError('name the shell: skiff completion bash, or skiff completion zsh');
    const script = SCRIPTS[shell];
    if (!script || rest.length) throw new UsageError(`${JSON.stringify(positionals.join(' '))}: unsupported shell (use bash or zsh)`);
    ctx.out(script.trimEnd());
    return 0;
  },
};
