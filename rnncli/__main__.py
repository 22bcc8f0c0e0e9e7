from rnncli.cli import main

main()
