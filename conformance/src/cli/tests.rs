//! Every spelling in use parses to what it meant before the subcommands, and every old
//! spelling to the same command as its new one, with its deprecation note.

use super::*;

fn argv(args: &[&str]) -> Vec<String> {
    std::iter::once("masq-conformance")
        .chain(args.iter().copied())
        .map(String::from)
        .collect()
}

fn parse(args: &[&str]) -> Invocation {
    parse_args(argv(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn run(args: &[&str]) -> (SuiteOptions, Arguments) {
    match parse(args).command {
        Command::Run(o, a) => (*o, a),
        other => panic!("{args:?}: not a run: {other:?}"),
    }
}

/// A command with the command line it came from left out (a report records it as given).
fn shape(invocation: Invocation) -> String {
    match invocation.command {
        Command::Run(mut o, a) => {
            o.argv.clear();
            format!("{:?}", Command::Run(o, a))
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn several_filters_skip_and_exact() {
    let (o, a) = run(&[
        "fault-",
        "tamper",
        "--skip",
        "tamper-delete",
        "--test-threads",
        "3",
        "-q",
    ]);
    assert_eq!(o.filters, ["fault-", "tamper"]);
    assert_eq!(a.test_threads, Some(3));
    assert!(a.quiet);
    assert!(o.selects("fault-lock::nft"));
    assert!(o.selects("tamper-flush::legacy"));
    assert!(!o.selects("tamper-delete-jump::legacy"));
    assert!(!o.selects("malformed::legacy"));
    // `fault-` is a substring of `default-`: libtest's rule, and ours without --exact.
    assert!(o.selects("default-no-config::nft"));
    let (o, _) = run(&["--exact", "fault-x::nft", "default-no-config::nft"]);
    assert!(o.selects("default-no-config::nft"));
    assert!(!o.selects("default-no-config::legacy"));
    assert!(!o.selects("fault-x::legacy"));
}

#[test]
fn the_suite_options_in_use_keep_their_meaning() {
    let (o, a) = run(&[
        "--implementation",
        "p.yaml",
        "--fixtures=fx",
        "--backend",
        "nft",
        "--iptables",
        "target/iptables/1.8.7",
        "--without-iptables",
        "--junit",
        "j.xml",
        "--artifacts",
        "out",
        "--bless",
        "--report",
        "r.json",
        "--write-expectations",
        "w.yaml",
        "--timings",
        "t.jsonl",
        "--list",
        "default-no-config",
    ]);
    assert_eq!(o.profile_path, PathBuf::from("p.yaml"));
    assert_eq!(o.fixtures_dir, PathBuf::from("fx"));
    assert_eq!(o.backends, [crate::vocabulary::IptablesBackend::Nft]);
    assert_eq!(o.iptables, Some(PathBuf::from("target/iptables/1.8.7")));
    assert!(o.without_iptables && o.bless && a.list);
    assert_eq!(o.junit, Some(PathBuf::from("j.xml")));
    assert_eq!(o.artifacts, Some(PathBuf::from("out")));
    assert_eq!(o.report, Some(PathBuf::from("r.json")));
    assert_eq!(o.write_expectations, Some(PathBuf::from("w.yaml")));
    assert_eq!(o.timings, Some(PathBuf::from("t.jsonl")));
    assert_eq!(o.filters, ["default-no-config"]);
    assert_eq!(o.argv[1], "--implementation");
    let (o, a) = run(&[]);
    assert_eq!(o.backends, crate::vocabulary::IptablesBackend::ALL);
    assert!(o.profile_path.ends_with(DEFAULT_PROFILE));
    assert!(o.filters.is_empty() && !a.list && a.test_threads.is_none());
    assert!(parse_args(argv(&["--backend", "iptables"])).is_err());
}

#[test]
fn every_libtest_option_reaches_libtest() {
    let args = [
        "--include-ignored",
        "--nocapture",
        "--show-output",
        "-Z",
        "unstable-options",
        "--test-threads=2",
        "--logfile",
        "log.txt",
        "--color",
        "never",
        "--format",
        "json",
        "--test",
    ];
    let (_, ours) = run(&args);
    let theirs = Arguments::from_iter(argv(&args));
    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    let (_, a) = run(&["--ignored", "--bench"]);
    assert!(a.ignored && a.bench);
}

#[test]
fn run_is_the_default_command() {
    for args in [
        &["--backend", "legacy", "-q", "fault-", "tamper"][..],
        &["--list", "--exact", "a::nft", "--skip", "b"],
        &[],
    ] {
        let with_run: Vec<&str> = std::iter::once("run").chain(args.iter().copied()).collect();
        assert_eq!(shape(parse(args)), shape(parse(&with_run)), "{args:?}");
    }
}

#[test]
fn under_cargo_test_a_command_name_is_a_filter() {
    let Command::Run(o, a) = parse_harness_args(argv(&["schema", "--list", "sweep"]))
        .unwrap()
        .command
    else {
        panic!("not a run")
    };
    assert_eq!(o.filters, ["schema", "sweep"]);
    assert!(a.list);
    assert_eq!(o.argv, argv(&["schema", "--list", "sweep"]));
}

#[test]
fn old_spellings_parse_as_their_new_ones_with_a_note() {
    for (old, new, spelling) in [
        (
            &["--print-schema"][..],
            &["schema", "fixture"][..],
            OldSpelling::PrintSchema,
        ),
        (
            &["--print-report-schema"],
            &["schema", "report"],
            OldSpelling::PrintReportSchema,
        ),
        (&["--sweep"], &["sweep"], OldSpelling::Sweep),
    ] {
        let (old_parsed, new_parsed) = (parse(old), parse(new));
        assert_eq!(old_parsed.deprecated, Some(spelling), "{old:?}");
        assert_eq!(new_parsed.deprecated, None, "{new:?}");
        assert_eq!(shape(old_parsed), shape(new_parsed), "{old:?}");
        let note = spelling.to_string();
        assert!(note.contains("deprecated"), "{note}");
        assert!(
            note.contains(&format!("`masq-conformance {}`", new.join(" "))),
            "{note}"
        );
    }
}

#[test]
fn masq_generate_parses_as_generate() {
    let old = [
        "target/release/masq-generate",
        "--seed",
        "7",
        "--count=20",
        "--configs",
        "0",
        "--backend",
        "legacy",
        "--out",
        "target/generated",
        "--threads",
        "0",
        "--shrink-budget",
        "5",
        "--implementation",
        "p.yaml",
    ];
    let rewritten = legacy::masq_generate_argv(old.iter().map(|a| a.to_string()));
    let mut new = vec!["generate"];
    new.extend(&old[1..]);
    assert_eq!(shape(parse_args(rewritten).unwrap()), shape(parse(&new)));
    let Command::Generate(o) = parse(&new).command else {
        panic!("not generate")
    };
    assert_eq!((o.seed, o.count, o.configs, o.threads), (7, 20, 1, 1));
    assert_eq!(o.shrink_budget, 5);
    assert_eq!(o.backends, [crate::vocabulary::IptablesBackend::Legacy]);
    assert_eq!(o.out, Some(PathBuf::from("target/generated")));
    assert_eq!(o.profile, PathBuf::from("p.yaml"));
    let Command::Generate(o) = parse(&["generate", "--seed", "1", "--count", "2"]).command else {
        panic!("not generate")
    };
    assert_eq!((o.configs, o.threads, o.shrink_budget), (6, 16, 60));
    assert!(o.profile.ends_with(DEFAULT_PROFILE));
    assert!(parse_args(argv(&["generate", "--count", "2"])).is_err());
    let note = OldSpelling::MasqGenerate.to_string();
    assert!(note.contains("`masq-generate` is deprecated"), "{note}");
    assert!(note.contains("`masq-conformance generate`"), "{note}");
}

#[test]
fn the_report_subcommands_keep_their_forms() {
    let own = own_corpus_dir();
    assert_eq!(
        shape(parse(&["verify-report", "r.json"])),
        format!("{:?}", Command::VerifyReport("r.json".into(), own.clone()))
    );
    assert_eq!(
        shape(parse(&["verify-report", "--fixtures", "f", "r.json"])),
        format!("{:?}", Command::VerifyReport("r.json".into(), "f".into()))
    );
    assert_eq!(
        shape(parse(&["badge", "r.json"])),
        format!("{:?}", Command::Badge("r.json".into(), own.clone()))
    );
    assert_eq!(
        shape(parse(&["badge", "r.json", "--fixtures", "f"])),
        format!("{:?}", Command::Badge("r.json".into(), "f".into()))
    );
    assert_eq!(
        shape(parse(&[
            "compare",
            "a.json",
            "--html",
            "m.html",
            "b.json",
            "--baseline",
            "base.json"
        ])),
        format!(
            "{:?}",
            Command::Compare {
                reports: vec!["a.json".into(), "b.json".into()],
                html: Some("m.html".into()),
                baseline: Some("base.json".into()),
                fixtures: own,
            }
        )
    );
    for wrong in [
        &["verify-report"][..],
        &["verify-report", "a", "b"],
        &["badge"],
        &["compare"],
        &["compare", "--html", "m.html"],
        &["schema"],
        &["schema", "other"],
    ] {
        assert!(parse_args(argv(wrong)).is_err(), "{wrong:?}");
    }
}

#[test]
fn help_is_help_and_the_clap_definition_holds() {
    command().debug_assert();
    for args in [
        &["--help"][..],
        &["-h"],
        &["run", "--help"],
        &["generate", "--help"],
    ] {
        let Err(CliError::Usage(e)) = parse_args(argv(args)) else {
            panic!("{args:?}: no help")
        };
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{args:?}");
        assert_eq!(e.exit_code(), 0);
    }
    let help = command().render_long_help().to_string();
    for word in [
        "verify-report",
        "compare",
        "badge",
        "generate",
        "sweep",
        "schema",
        "--implementation",
        "--test-threads",
        "--print-schema  ",
    ] {
        assert!(help.contains(word), "{word} missing from --help:\n{help}");
    }
}
