/**
 * Shell completion scripts rendered from a commander program: the commands,
 * options and fixed choices that `--help` shows, so completion never drifts
 * from the CLI.
 */
import type { Command, Help, Option } from "commander";

export interface OptionSpec {
  names: string[];
  description: string;
  takesValue: boolean;
  choices?: string[];
}

export interface CommandSpec {
  name: string;
  description: string;
  options: OptionSpec[];
  /** Choices of the first positional argument, when it has fixed ones. */
  argumentChoices?: string[];
}

export interface ProgramSpec {
  name: string;
  options: OptionSpec[];
  commands: CommandSpec[];
}

/** Reads what commander shows in --help: visible commands and options only. */
export function describeProgram(program: Command): ProgramSpec {
  const help = program.createHelp();
  return {
    name: program.name(),
    options: help.visibleOptions(program).map(describeOption),
    commands: help.visibleCommands(program).map((command) => describeCommand(help, command, program)),
  };
}

function describeCommand(help: Help, command: Command, program: Command): CommandSpec {
  const first = help.visibleArguments(command)[0];
  // `help <command>` completes command names.
  const argumentChoices = command.name() === "help" ? program.commands.map((c) => c.name()) : first?.argChoices;
  return {
    name: command.name(),
    description: command.description(),
    options: help.visibleOptions(command).map(describeOption),
    argumentChoices,
  };
}

function describeOption(option: Option): OptionSpec {
  return {
    names: [option.short, option.long].filter((name): name is string => typeof name === "string"),
    description: option.description,
    takesValue: option.required || option.optional,
    choices: option.argChoices,
  };
}

/** A bash function name can't hold `-`. */
function functionName(program: string): string {
  return `_${program.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** Words for `compgen -W`: only characters that are safe unquoted in the script. */
function words(list: string[]): string {
  return list.filter((word) => /^[A-Za-z0-9_./:=+-]+$/.test(word)).join(" ");
}

/** One `case` arm per command: its options, the options that take a value, and fixed choices. */
function bashCommandCases(spec: ProgramSpec): string {
  const valueOptions = (options: OptionSpec[]) => options.filter((o) => o.takesValue).flatMap((o) => o.names);
  return spec.commands
    .map((command) => {
      const choiceCases = command.options
        .filter((o) => o.choices?.length)
        .map(
          (o) => `        ${o.names.join("|")}) COMPREPLY=($(compgen -W "${words(o.choices!)}" -- "$cur")); return ;;`,
        )
        .join("\n");
      return [
        `    ${command.name})`,
        `      opts="${words(command.options.flatMap((o) => o.names))}"`,
        `      valueopts=" ${words(valueOptions(command.options))} "`,
        `      argchoices="${words(command.argumentChoices ?? [])}"`,
        choiceCases ? `      case "$prev" in\n${choiceCases}\n      esac` : "",
        "      ;;",
      ]
        .filter(Boolean)
        .join("\n");
    })
    .join("\n");
}

export function renderBash(spec: ProgramSpec): string {
  const fn = functionName(spec.name);
  const cases = bashCommandCases(spec);
  return `# bash completion for ${spec.name}; load with: source <(${spec.name} completion bash)
${fn}() {
  local cur prev cmd i opts valueopts argchoices
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for (( i = 1; i < COMP_CWORD; i++ )); do
    case "\${COMP_WORDS[i]}" in
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "${words(spec.options.flatMap((o) => o.names))}" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${words(spec.commands.map((c) => c.name))}" -- "$cur"))
    fi
    return 0
  fi
  opts=""; valueopts=" "; argchoices=""
  case "$cmd" in
${cases}
  esac
  if [[ "$prev" == -* && "$valueopts" == *" $prev "* ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
  fi
  # Fixed choices are for the first positional argument only.
  local positionals=0 skip=""
  for (( i = i + 1; i < COMP_CWORD; i++ )); do
    if [[ -n "$skip" ]]; then skip=""; continue; fi
    case "\${COMP_WORDS[i]}" in
      -*) [[ "$valueopts" == *" \${COMP_WORDS[i]} "* ]] && skip=1 ;;
      *) (( positionals++ )) ;;
    esac
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n "$argchoices" && $positionals -eq 0 ]]; then
    COMPREPLY=($(compgen -W "$argchoices" -- "$cur"))
  else
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -F ${fn} ${spec.name}
`;
}

/** Text inside a zsh `_arguments` spec, itself inside single quotes. */
function zshText(text: string): string {
  return text.replace(/([[\]:\\])/g, "\\$1").replace(/'/g, "'\\''");
}

function zshOption(option: OptionSpec): string {
  const description = zshText(option.description);
  const value = option.takesValue
    ? option.choices?.length
      ? `:value:(${words(option.choices)})`
      : ":value:_files"
    : "";
  if (option.names.length === 1) return `'${option.names[0]}[${description}]${value}'`;
  return `'(${option.names.join(" ")})'{${option.names.join(",")}}'[${description}]${value}'`;
}

export function renderZsh(spec: ProgramSpec): string {
  const fn = functionName(spec.name);
  const commandList = spec.commands.map((c) => `    '${zshText(c.name)}:${zshText(c.description)}'`).join("\n");
  const cases = spec.commands
    .map((command) => {
      const positional = command.argumentChoices?.length
        ? `'1:argument:(${words(command.argumentChoices)})'`
        : `'*:file:_files'`;
      const specs = [...command.options.map(zshOption), positional].map((s) => `            ${s}`).join(" \\\n");
      return `        ${command.name})\n          _arguments -s \\\n${specs}\n          ;;`;
    })
    .join("\n");
  return `#compdef ${spec.name}
# zsh completion for ${spec.name}; install as _${spec.name} in a directory of $fpath,
# or load with: source <(${spec.name} completion zsh)
${fn}() {
  local curcontext="$curcontext" state line
  local -a commands
  commands=(
${commandList}
  )
  _arguments -C \\
${spec.options.map((o) => `    ${zshOption(o)}`).join(" \\\n")} \\
    '1: :->command' \\
    '*:: :->args'
  case $state in
    command)
      _describe -t commands '${spec.name} command' commands
      ;;
    args)
      case $words[1] in
${cases}
      esac
      ;;
  esac
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${spec.name}
fi
`;
}
