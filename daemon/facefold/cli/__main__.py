from facefold.cli import main

main()
