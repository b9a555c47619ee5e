#!/usr/bin/perl
# test/shell/trojans-names.pl — the names the extension's queries use, for
# test/shell/trojans.sh (not a test itself: the runner runs only *.sh).
#
#   perl trojans-names.pl c   src/*.c          SQL in C string literals
#   perl trojans-names.pl sql src/sql/*.sql    the install script
#
# Prints "kind<TAB>name<TAB>file", kind being
#   func  an identifier before "(", unqualified or in pg_catalog
#   type  an identifier after "::", unqualified or in pg_catalog
#   word  any other identifier (trojans.sh keeps those naming a pg_catalog
#         type: column types, declarations, RETURNS)
#   op    a run of operator characters, or an operator the grammar looks up
#         by name (IN / DISTINCT FROM / NULLIF / CASE x WHEN: =, NOT IN: <>,
#         BETWEEN: >= and <=, LIKE: ~~, ILIKE: ~~*, NOT LIKE: !~~)
# Comments are dropped and string literals emptied first; dollar-quoted
# bodies are code and are scanned.  In C, adjacent literals are joined, and
# the literals of errmsg/errhint/errdetail/elog... (messages) are left out;
# only literals that look like SQL (a keyword, "::" or OPERATOR) are kept.
# usage: names.pl c|sql FILE...   prints: kind \t name \t file
my $mode = shift @ARGV;
local $/;
my %seen;
sub emit { my ($k, $n, $f) = @_; $n = lc $n unless $n =~ s/^"(.*)"$/$1/; print "$k\t$n\t$f\n" unless $seen{"$k\t$n\t$f"}++; }
sub scan_sql {
	my ($sql, $f) = @_;
	my $out = '';
	# one pass: comments out, string literals emptied, dollar quotes dropped (their bodies are code)
	while ($sql =~ /\G(--[^\n]*|\/\*.*?\*\/|[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|\$[A-Za-z_0-9]*\$|"(?:[^"]|"")*"|[^-\/'"\$Ee]+|.)/gsc) {
		my $t = $1;
		if ($t =~ /^(--|\/\*)/) { $out .= ' ' }
		elsif ($t =~ /^[Ee]?'/) { $out .= " '' " }
		elsif ($t =~ /^\$[A-Za-z_0-9]*\$$/) { $out .= ' ' }
		else { $out .= $t }
	}
	$out =~ s/^\\[^\n]*//mg;	# psql meta-commands
	my $id = qr/(?:[A-Za-z_][A-Za-z_0-9\$]*|"(?:[^"]|"")+")/;
	# functions: an identifier before "(", unqualified or in pg_catalog
	while ($out =~ /(?<![\w.\$"])(?:($id)\s*\.\s*)?($id)\s*\(/g) {
		my ($q, $n) = ($1, $2);
		next if defined $q && lc($q) ne 'pg_catalog';
		emit('func', $n, $f);
	}
	# types: after "::", and every word (the catalog keeps those that name a type)
	while ($out =~ /::\s*(?:($id)\s*\.\s*)?($id)/g) {
		my ($q, $n) = ($1, $2);
		next if defined $q && lc($q) ne 'pg_catalog';
		emit('type', $n, $f);
	}
	while ($out =~ /(?<![\w.\$"])(?:pg_catalog\s*\.\s*)?($id)(?![\w\$"]|\s*\.)/g) { emit('word', $1, $f); }
	# operators: runs of operator characters (OPERATOR(pg_catalog.=) included)
	while ($out =~ /([-+*\/<>=~!@#%^&|`?]+)/g) {
		my $op = $1;
		next if $op =~ m{^(=>|:=)$};
		emit('op', $op, $f);
	}
	# operators the grammar looks up by name without writing them
	emit('op', '=', $f) if $out =~ /\b(IN\s*\(|DISTINCT\s+FROM|NULLIF\s*\(|CASE\s+(?!WHEN)\S)/i;
	emit('op', '<>', $f) if $out =~ /\bNOT\s+IN\s*\(/i;
	if ($out =~ /\bBETWEEN\b/i) { emit('op', '>=', $f); emit('op', '<=', $f); }
	emit('op', '~~', $f) if $out =~ /\bLIKE\b/i;
	emit('op', '~~*', $f) if $out =~ /\bILIKE\b/i;
	emit('op', '!~~', $f) if $out =~ /\bNOT\s+LIKE\b/i;
}
for my $f (@ARGV) {
	open my $fh, '<', $f or die "$f: $!"; my $src = <$fh>; close $fh;
	if ($mode eq 'sql') { scan_sql($src, $f); next; }
	# C: the SQL in string literals (adjacent literals concatenated), not
	# the messages (errmsg, errhint, elog, ...)
	$src =~ s{/\*.*?\*/}{ }gs; $src =~ s{//[^\n]*}{ }g;
	while ($src =~ /((?:"(?:[^"\\\n]|\\.)*"\s*)+)/g) {
		my ($grp, $pos) = ($1, $-[1]);
		my $before = substr($src, $pos > 80 ? $pos - 80 : 0, $pos > 80 ? 80 : $pos);
		next if $before =~ /\b(errmsg|errmsg_plural|errhint|errdetail|errcontext|elog|errmsg_internal|errdetail_internal|errdetail_log)\s*\([^;]*$/s;
		next if $before =~ /#\s*include\s*$/;
		my $s = '';
		while ($grp =~ /"((?:[^"\\\n]|\\.)*)"/g) { $s .= $1 }
		$s =~ s/\\n/\n/g; $s =~ s/\\t/\t/g; $s =~ s/\\"/"/g; $s =~ s/\\\\/\\/g;
		next unless $s =~ /\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|JOIN|RETURNING|VALUES|SET|AND|OR)\b|::|OPERATOR\s*\(/;
		scan_sql($s, $f);
	}
}
