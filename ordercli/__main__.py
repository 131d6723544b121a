from ordercli.cli import main

main()
