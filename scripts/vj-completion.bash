# scripts/vj-completion.bash: bash completion for the vj commands.
#
# `make install` puts this file in $(PREFIX)/share/bash-completion/completions
# as `vj`, with a symlink to it named after each command, so bash-completion
# loads it on the first Tab after any vj command.  Loaded through such a link
# it completes the command the link is named after; sourced under another name
# (`. scripts/vj-completion.bash` in ~/.bashrc) it completes every vj-*
# command on PATH.
#
# The options come from the command's own --help (its list after
# "Options:", one option a line), so they stay true as options change.
# An option's argument is completed from its placeholder: `a|b|c` gives the
# choices, DIR, RUN, OUT directories, FILE files; anything else (N, SEC, ...)
# is left to the user.  Positional arguments are files.

# _vj_options CMD: one line per option of CMD: "NAME PLACEHOLDER" (the
# placeholder empty for an option without an argument).
_vj_options()
{
	"$1" --help 2>/dev/null | {
		set -f    # a subshell: the words of the help are not file patterns
		inopts=
		while read -r line; do
			[ "$line" = "Options:" ] && inopts=1
			[[ $inopts && $line == -* ]] || continue
			names='' arg=''
			for w in $line; do
				if [[ $w == -* ]]; then
					names="$names ${w%,}"
					continue
				fi
				[[ $w == *'|'* || $w =~ ^[A-Z][A-Z_/]*$ ]] && arg=$w
				break
			done
			for n in $names; do printf '%s %s\n' "$n" "$arg"; done
		done
	}
}

# _vj_arg_words PLACEHOLDER CUR: fill COMPREPLY for an option's argument.
_vj_arg_words()
{
	case $1 in
	*'|'*) mapfile -t COMPREPLY < <(compgen -W "${1//|/ }" -- "$2") ;;
	DIR|RUN|OUT) compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$2") ;;
	FILE) compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$2") ;;
	*) COMPREPLY=() ;;
	esac
}

_vj_complete()
{
	local cmd=$1 cur=${COMP_WORDS[COMP_CWORD]} prev=
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	local opts name arg pre=
	opts=$(_vj_options "$cmd")
	COMPREPLY=()

	# --opt=VALUE: bash splits the word at the '=' (COMP_WORDBREAKS),
	# unless the user changed that
	if [ "$cur" = "=" ]; then
		cur=
	elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == --*=* ]]; then
		pre=${cur%%=*}= prev=${cur%%=*} cur=${cur#*=}
	elif [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(cut -d' ' -f1 <<<"$opts")" -- "$cur")
		return 0
	fi
	while read -r name arg; do
		if [ "$name" = "$prev" ] && [ -n "$arg" ]; then
			_vj_arg_words "$arg" "$cur"
			[ -n "$pre" ] && COMPREPLY=("${COMPREPLY[@]/#/$pre}")
			return 0
		fi
	done <<EOF
$opts
EOF
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	return 0
}

_vj_register()
{
	local self=${BASH_SOURCE[0]##*/}
	case $self in
	vj-*.*) ;;
	vj-*) complete -F _vj_complete "$self"; return ;;
	esac
	local c
	for c in $(compgen -c vj- | sort -u); do complete -F _vj_complete "$c"; done
}
_vj_register
unset -f _vj_register
