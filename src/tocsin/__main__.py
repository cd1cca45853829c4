from tocsin.cli.main import main

main()
