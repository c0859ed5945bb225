#!/usr/bin/perl
# Turns the SQL that leadloopd sent for one request into the body of a pgbench script, so
# that the database's limit is measured with the very statements the daemon sends (and
# follows them when the daemon's SQL changes).
#
# Usage: pgbench-script.pl LOG OFFSET VALUE EXPR [VALUE EXPR]... >> script.sql
#   LOG     PostgreSQL's log, written with log_statement = all and
#           log_line_prefix = 'LLB|%p|' while the one request ran
#   OFFSET  where the request's part of LOG starts (its size before the request)
#   VALUE EXPR  a parameter value of the probe request (an id, a cursor's position, an
#           email) and the pgbench expression that stands for it, so that every
#           transaction picks its own: e.g. the probe's lead id and
#           "SELECT id FROM bench.lead_ids WHERE n = :n". A parameter that holds VALUE
#           inside a longer text (an external id inside a JSON object) becomes a
#           concatenation around EXPR. Every VALUE must be found, or nothing is written.
#
# The statements are those the request's backend ran, in order, BEGIN/COMMIT included when
# the daemon sends them: every statement logged since OFFSET by the backend whose
# parameters hold the first VALUE, less those about API keys (the lookup, which the
# daemon's key cache mostly skips, and its last_used_at touch), a new connection's
# session settings, the rate limit's leases and the webhook dispatcher's poll (below). Other parameters become the literals the daemon sent (NULL stays
# NULL); PostgreSQL plans an unnamed statement of the daemon with its values known, so
# this changes nothing for the planner.
#
# pgbench takes every ":name" as a variable, even inside a string literal
# ('HH24:MI:SS'), so literals holding a colon are rewritten as E'...\x3a...': the same
# string once parsed.
use strict;
use warnings;

my ($log, $offset, @pairs) = @ARGV;
die "usage: $0 LOG OFFSET VALUE EXPR [VALUE EXPR]...\n"
  unless defined $offset && @pairs && @pairs % 2 == 0;
my %expr_for = @pairs;
my %used;

open my $fh, '<', $log or die "$0: $log: $!\n";
seek $fh, $offset, 0 or die "$0: seek: $!\n";
my @entries;    # [pid, level, message]
while (my $line = <$fh>) {
    chomp $line;
    if ($line =~ /^LLB\|(\d+)\|([A-Z0-9]+):  (.*)$/) {
        push @entries, [$1, $2, $3];
    } elsif (@entries) {
        $entries[-1][2] .= "\n$line";    # a message that spans lines
    }
}
close $fh;

my %by_pid;    # pid -> [[sql, [parameter values]]...]
my @pids;
for my $e (@entries) {
    my ($p, $level, $msg) = @$e;
    if ($level eq 'LOG' && $msg =~ /^(?:execute [^:]*|statement): (.*)$/s) {
        push @pids, $p unless $by_pid{$p};
        push @{$by_pid{$p}}, [$1, []];
    } elsif ($level eq 'DETAIL' && $msg =~ /^parameters: (.*)$/s && $by_pid{$p}) {
        my $list = $1;
        while ($list =~ /\$(\d+) = (NULL|'((?:[^']|'')*)')/g) {
            my ($n, $v) = ($1, $2 eq 'NULL' ? undef : $3);
            $v =~ s/''/'/g if defined $v;
            $by_pid{$p}[-1][1][$n] = $v;
        }
    }
}
my $key = $pairs[0];
my ($pid) = grep {
    grep { grep { defined && index($_, $key) >= 0 } @{$_->[1]} } @{$by_pid{$_}}
} @pids;
die "$0: no statement logged since offset $offset holds '$key'\n" unless defined $pid;
# Not the request's own work, though its backend may run it within the window: the rate
# limit's lease (one statement per hundred requests of a key, not one per request) and the
# webhook dispatcher's poll, which borrows a pooled connection between requests.
my @statements = grep {
    $_->[0] !~ /\bapi_keys\b/ && $_->[0] !~ /^\s*(SET statement_timeout|LISTEN)\b/
      && $_->[0] !~ /\bll_rate_take\b/ && $_->[0] !~ /\bwebhook_(?:cursors|deliveries)\b/
} @{$by_pid{$pid}};
die "$0: the request ran no statement of its own\n" unless @statements;

# A string literal for pgbench: E'' with \x3a for each colon when it holds one.
sub literal {
    my ($s) = @_;
    $s =~ s/'/''/g;
    return "'$s'" unless $s =~ /:/;
    $s =~ s/\\/\\\\/g;
    $s =~ s/:/\\x3a/g;
    return "E'$s'";
}

sub parameter {
    my ($v) = @_;
    return 'NULL' unless defined $v;
    for my $value (sort { length $b <=> length $a } keys %expr_for) {
        my $at = index $v, $value;
        next if $at < 0;
        $used{$value}++;
        my ($before, $after) = (substr($v, 0, $at), substr($v, $at + length $value));
        my @parts = ("($expr_for{$value})");
        unshift @parts, literal($before) if length $before;
        push @parts, literal($after) if length $after;
        return @parts == 1 ? $parts[0] : '(' . join(' || ', @parts) . ')';
    }
    return literal($v);
}

my @script;
for my $st (@statements) {
    my ($sql, $params) = @$st;
    my @out;
    # Literals and the rest alternate; $n and colons matter only outside literals.
    for my $part (split /('(?:[^']|'')*')/, $sql) {
        if ($part =~ /^'/) {
            my $inner = substr $part, 1, -1;
            if ($inner =~ /:/) {
                my $escaped = @out && $out[-1] =~ /[Ee]$/;    # already an E'' literal
                $inner =~ s/\\/\\\\/g unless $escaped;
                $inner =~ s/:/\\x3a/g;
                $part = ($escaped ? "'" : "E'") . $inner . "'";
            }
        } else {
            die "$0: ':name' outside a literal would be a pgbench variable: $sql\n"
              if $part =~ /(?<!:):[A-Za-z_]/;
            $part =~ s/\$(\d+)/exists $params->[$1] ? parameter($params->[$1])
              : die "$0: \$$1 has no logged value: $sql\n"/ge;
        }
        push @out, $part;
    }
    push @script, join('', @out) . ";\n";
}

my @missing = grep { !$used{$_} } sort keys %expr_for;
die "$0: the request's parameters do not hold: @missing\n" if @missing;
print @script;

